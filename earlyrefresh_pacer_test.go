package hoard

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestDrawPacer(t *testing.T) {
	p := newDrawPacer()
	now := time.Unix(1_800_000_000, 0)
	exp := now.Add(time.Second)
	step := 10 * time.Millisecond
	if !p.draw("k", exp, now, step) {
		t.Fatal("the first read of an entry must draw")
	}
	if p.draw("k", exp, now, step) || p.draw("k", exp, now.Add(step-1), step) {
		t.Fatal("a second draw within the interval")
	}
	if !p.draw("k", exp, now.Add(step), step) {
		t.Fatal("no draw once the interval has passed")
	}
	if !p.draw("k", exp.Add(time.Second), now.Add(step), step) {
		t.Fatal("a new version of the entry (a new expiry) must draw at once")
	}
	if !p.draw("other", exp, now, step) {
		t.Fatal("another key must draw at once")
	}
	for range 3 {
		if !p.draw("k", exp, now, 0) {
			t.Fatal("interval 0 must draw on every read")
		}
	}
}

// firstFire simulates one expiry: procs processes each read the entry every
// read interval, from horizon before expiry on (each with its own phase),
// drawing through its own pacer with the given interval (0: every read). It
// returns how long before expiry the first draw fired (0 if none did).
func firstFire(rng *rand.Rand, procs int, read, interval, delta, horizon time.Duration, beta float64) time.Duration {
	start := time.Unix(1_800_000_000, 0)
	exp := start.Add(horizon)
	pacers := make([]*drawPacer, procs)
	phases := make([]time.Duration, procs)
	for i := range pacers {
		pacers[i] = newDrawPacer()
		phases[i] = time.Duration(rng.Int64N(int64(read)))
	}
	for t := time.Duration(0); t < horizon; t += read {
		for i, p := range pacers {
			now := start.Add(t + phases[i])
			if !now.Before(exp) {
				continue
			}
			if p.draw("hot", exp, now, interval) && xfetch(exp, delta, now, beta, 1-rng.Float64()) {
				return exp.Sub(now)
			}
		}
	}
	return 0
}

// With paced draws the lead of the first refresh before expiry follows
// delta*beta*(ln(N*K*beta) + γ) for N processes making K draws per delta,
// however often the key is read; drawing on every read, it grows with the
// read rate as delta*beta*(ln(λ*delta*beta) + γ). Paced, a refresh still
// almost never starts less than a delta before expiry.
func TestPacedDrawsBoundTheLead(t *testing.T) {
	const (
		procs  = 4
		draws  = defaultEarlyRefreshDraws
		trials = 200
		gamma  = 0.5772156649 // Euler–Mascheroni: the mean of a Gumbel
	)
	delta := 50 * time.Millisecond
	read := 500 * time.Microsecond // 2,000 reads/s per process: 100 per delta
	horizon := 20 * delta
	rng := rand.New(rand.NewPCG(1, 2)) // fixed: the test is exact and repeatable

	meanLead := func(interval time.Duration) (mean time.Duration, late int) {
		var sum time.Duration
		for range trials {
			lead := firstFire(rng, procs, read, interval, delta, horizon, 1)
			sum += lead
			if lead < delta {
				late++
			}
		}
		return sum / trials, late
	}
	lead := func(eventsPerDelta float64) time.Duration {
		return time.Duration(float64(delta) * (math.Log(eventsPerDelta) + gamma))
	}

	paced, late := meanLead(delta / draws)
	want := lead(procs * draws)
	if math.Abs(float64(paced-want)) > 0.12*float64(want) {
		t.Errorf("paced: mean lead %v; formula %v (N=%d, K=%d)", paced, want, procs, draws)
	}
	if late > 0 {
		t.Errorf("paced: %d of %d refreshes started less than a delta before expiry", late, trials)
	}

	every, _ := meanLead(0)
	wantEvery := lead(float64(procs) * float64(delta/read))
	if math.Abs(float64(every-wantEvery)) > 0.12*float64(wantEvery) {
		t.Errorf("every read: mean lead %v; formula %v", every, wantEvery)
	}
	if every < paced+delta {
		t.Errorf("every read: mean lead %v; want well above the paced %v", every, paced)
	}
	t.Logf("mean lead before expiry: paced %v (formula %v), every read %v (formula %v)", paced, want, every, wantEvery)
}
