package otel_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	hoardotel "github.com/hoard-cache/hoard/metrics/otel"
	goredis "github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func ExampleNewTracer() {
	// A real program passes its TracerProvider (or none, for the global
	// one); here an SDK provider with an in-memory exporter shows the
	// spans.
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	defer tp.Shutdown(context.Background())

	// The Redis tier (an in-process miniredis stands in for the server).
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer mr.Close()
	client := goredis.NewClient(&goredis.Options{Addr: mr.Addr()})
	defer client.Close()
	redisTier, err := hoardredis.New[string](client, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	locker, err := hoardredis.NewLocker(client, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	mem, err := memory.New[string](nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mem.Close()

	// One Tracer per cache: it names the cache on every span.
	tr, err := hoardotel.NewTracer(&hoardotel.TraceOptions{TracerProvider: tp, Name: "products"})
	if err != nil {
		fmt.Println(err)
		return
	}
	shared, err := hoardotel.TraceCache[string](tr, hoard.TierShared, redisTier)
	if err != nil {
		fmt.Println(err)
		return
	}
	products, err := hoard.NewAside(&hoard.AsideOptions[string]{
		Name: "products", Memory: mem, Shared: shared, TTL: time.Minute,
		Stampede: &hoard.Stampede{Locker: hoardotel.TraceLocker(tr, locker)},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer products.Close(context.Background())
	loader := hoardotel.TraceLoader(tr, hoard.LoaderFunc[string](func(ctx context.Context, id string) (string, error) {
		return "lamp " + id, nil // a database query, whose own spans would be children of hoard.load
	}))

	// The request's span is the parent of the cache's.
	ctx, span := tp.Tracer("shop").Start(context.Background(), "GET /products/42")
	v, err := products.Get(ctx, "42", loader)
	span.End()
	fmt.Println(v, err)

	for _, s := range exporter.GetSpans() {
		fmt.Println(s.Name)
	}
	// Output:
	// lamp 42 <nil>
	// hoard.shared.get_with_token
	// hoard.lock.try
	// hoard.shared.get_with_token
	// hoard.load
	// hoard.shared.compare_and_set
	// hoard.lock.release
	// GET /products/42
}

func ExampleTraceCache() {
	mem, err := memory.New[string](nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mem.Close()
	tr, err := hoardotel.NewTracer(nil) // the global TracerProvider
	if err != nil {
		fmt.Println(err)
		return
	}

	// The wrapper can do what the cache can: an Aside finds compare-and-set
	// on it, and keeps its stale-set protection.
	traced, err := hoardotel.TraceCache[string](tr, hoard.TierShared, mem)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, cas := traced.(hoard.CompareAndSetter[string])
	_, clear := traced.(hoard.Clearer)
	fmt.Println("compare-and-set:", cas, "clear:", clear)

	// A cache it could not wrap without losing an ability is refused.
	_, err = hoardotel.TraceCache[string](tr, hoard.TierShared, clearOnly{mem})
	fmt.Println(errors.Is(err, hoard.ErrInvalidOption))
	// Output:
	// compare-and-set: true clear: true
	// true
}

// clearOnly is a cache that can Clear, and nothing else beyond
// hoard.Cache: a mix TraceCache does not keep.
type clearOnly struct {
	hoard.Cache[string]
}

func (c clearOnly) Clear(ctx context.Context) error {
	return c.Cache.(*memory.Cache[string]).Clear(ctx)
}
