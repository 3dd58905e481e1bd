package hoard

import (
	"encoding/json"
	"fmt"
)

// Codec turns values into bytes and back, for the caches that store bytes
// (Redis). The memory backend keeps typed values and needs none.
//
// Implementations are safe for concurrent use. Unmarshal must not keep data
// after it returns.
type Codec interface {
	// Name identifies the codec in errors and metrics.
	Name() string
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSON is the default [Codec]: encoding/json, readable with redis-cli.
var JSON Codec = &jsonCodec{}

// jsonCodec has pointer methods: through the Codec interface, a value
// method of a struct type is reached by way of a generated wrapper that
// dereferences the pointer the interface holds, a call more on every
// value read.
type jsonCodec struct{}

func (*jsonCodec) Name() string { return "json" }

func (*jsonCodec) Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("hoard: json marshal: %w", err)
	}
	return b, nil
}

func (*jsonCodec) Unmarshal(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: json: %w", ErrCorrupt, err)
	}
	return nil
}

// codecOrJSON returns c, or [JSON] when c is nil.
func codecOrJSON(c Codec) Codec {
	if c == nil {
		return JSON
	}
	return c
}
