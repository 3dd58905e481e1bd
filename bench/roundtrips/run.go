package roundtrips

import (
	"context"
	"fmt"
	"maps"
	"time"
)

// Result is what one operation sent to Redis.
type Result struct {
	Op
	Trips    int            // round trips of the instance that ran it
	Commands map[string]int // its commands, by the client's count
	Others   int            // round trips of the other instance meanwhile
	// Server is what INFO commandstats counted meanwhile (INFO itself left
	// out); nil when the server is shared and its counts mean nothing.
	Server map[string]int
	Err    error
}

// Report is a run of every operation.
type Report struct {
	Command string
	Server  string // which Redis, and whether its commandstats are the run's own
	Started time.Time
	Results []Result
}

// Run counts every operation on the Redis at addr. With private set, the
// server is the run's alone and its commandstats are counted too.
func Run(ctx context.Context, addr, serverNote string, private bool) (*Report, error) {
	f, err := newFixture(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = f.close(cctx)
	}()
	rep := &Report{Server: serverNote, Started: time.Now()}
	for _, op := range Ops() {
		rep.Results = append(rep.Results, count(ctx, f, op, private))
	}
	return rep, nil
}

// count runs op once to warm up (the scripts it uses get loaded, the tag
// epoch read), then readies it again and runs it with the counters at
// zero.
func count(ctx context.Context, f *fixture, op Op, private bool) Result {
	res := Result{Op: op}
	warm, err := op.setup(ctx, f)
	if err == nil {
		err = warm(ctx)
	}
	if err != nil {
		res.Err = fmt.Errorf("warm-up: %w", err)
		return res
	}
	run, err := op.setup(ctx, f)
	if err != nil {
		res.Err = fmt.Errorf("setup: %w", err)
		return res
	}
	// Nothing the setup did is still sending: Get writes back and Delete
	// publishes before they return; deliveries to the other instance send
	// nothing.
	var before map[string]int
	if private {
		if before, err = CommandStats(ctx, f.a.client); err != nil {
			res.Err = err
			return res
		}
	}
	f.a.counter.Take()
	f.b.counter.Take()
	res.Err = run(ctx)
	runner, other := f.a, f.b
	if op.onB {
		runner, other = f.b, f.a
	}
	res.Trips, res.Commands = runner.counter.Take()
	res.Others, _ = other.counter.Take()
	if private {
		after, err := CommandStats(ctx, f.a.client)
		if err != nil {
			res.Err = err
			return res
		}
		res.Server = diff(before, after)
		res.Server["INFO"]-- // the first read's own INFO
		maps.DeleteFunc(res.Server, func(_ string, v int) bool { return v == 0 })
	}
	return res
}
