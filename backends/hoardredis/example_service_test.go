package hoardredis_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
)

type user struct {
	Name string `json:"name"`
}

// readme:begin service
// caches are one instance's caches of the application "shop".
type caches struct {
	svc      *hoardredis.Service
	users    *hoard.Aside[user]
	products *hoard.Aside[product]
}

// newCaches wires one instance: a Service for the application, then one
// call per endpoint.
func newCaches(ctx context.Context, client goredis.UniversalClient) (*caches, error) {
	svc, err := hoardredis.NewService(ctx, client, "shop", &hoardredis.ServiceOptions{MemoryMaxEntries: 10_000})
	if err != nil {
		return nil, err // Redis unreachable, a wrong password, an ACL that forbids shop:*
	}
	users, err := hoardredis.NewAside(svc, "users", &hoard.AsideOptions[user]{TTL: 10 * time.Minute})
	if err != nil {
		return nil, errors.Join(err, svc.Close(ctx))
	}
	products, err := hoardredis.NewAside(svc, "products", &hoard.AsideOptions[product]{TTL: time.Hour, FailSafe: &hoard.FailSafe{Window: 24 * time.Hour}})
	if err != nil {
		return nil, errors.Join(err, svc.Close(ctx))
	}
	return &caches{svc: svc, users: users, products: products}, nil
}

// readme:end

// One application, two endpoints (two value types), two instances: each
// instance has its memory tiers, both share Redis, and every Redis name is
// under "shop:".
func ExampleNewService() {
	mr, err := miniredis.Run() // any Redis: a server, Sentinel, or a Cluster
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mr.Close()
	ctx := context.Background()

	var instances []*caches // two processes, in production
	for range 2 {
		client := goredis.NewClient(&goredis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
		defer client.Close()
		c, err := newCaches(ctx, client)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer func() {
			if err := c.svc.Close(ctx); err != nil {
				fmt.Println(err)
			}
		}()
		instances = append(instances, c)
	}
	a, b := instances[0], instances[1]

	userByID := hoard.LoaderFunc[user](func(_ context.Context, id string) (user, error) {
		fmt.Println("database: user", id)
		return user{Name: "Ada"}, nil
	})
	productByID := hoard.LoaderFunc[product](func(_ context.Context, id string) (product, error) {
		fmt.Println("database: product", id)
		return product{ID: 42, Name: "kettle"}, nil
	})
	for _, c := range []*caches{a, b} { // a loads, b finds the values in Redis
		u, err := c.users.Get(ctx, "7", userByID)
		if err != nil {
			fmt.Println(err)
			return
		}
		p, err := c.products.Get(ctx, "42", productByID)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(u.Name, p.Name)
	}
	fmt.Println(b.users.Key("7"), b.users.Metrics().Snapshot().Count(hoard.EventHit, hoard.TierShared), "Redis hit")
	// Output:
	// database: user 7
	// database: product 42
	// Ada kettle
	// Ada kettle
	// shop:users:7 1 Redis hit
}
