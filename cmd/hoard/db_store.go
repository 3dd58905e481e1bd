package main

import (
	"context"
	"database/sql"

	"github.com/hoard-cache/hoard"
)

// store is the catalogue as a hoard.Store and BatchStore: writes apply
// only when newer than the row's version.
type store struct{ c *catalogue }

var _ hoard.BatchStore[Product] = store{}

func (s store) Load(ctx context.Context, id string) (Product, error) { return s.c.Product(ctx, id) }

func (s store) Save(ctx context.Context, id string, p Product, version uint64) error {
	s.c.writes.Add(1)
	if err := s.c.wait(ctx, s.c.latency); err != nil {
		return err
	}
	return s.c.save(ctx, s.c.db, id, p, version)
}

func (s store) Delete(ctx context.Context, id string, version uint64) error {
	s.c.writes.Add(1)
	if err := s.c.wait(ctx, s.c.latency); err != nil {
		return err
	}
	return s.c.remove(ctx, s.c.db, id, version)
}

// WriteMany applies a batch in one transaction, for one latency.
func (s store) WriteMany(ctx context.Context, writes []hoard.Write[Product]) error {
	s.c.writes.Add(1)
	if err := s.c.wait(ctx, s.c.latency); err != nil {
		return err
	}
	tx, err := s.c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, w := range writes {
		if w.Delete {
			err = s.c.remove(ctx, tx, w.ID, w.Version)
		} else {
			err = s.c.save(ctx, tx, w.ID, w.Value, w.Version)
		}
		if err != nil {
			return err
		}
	}
	return tx.Commit()
}

// execer is a *sql.DB or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// save upserts p as the row of id unless the row's version is newer.
func (c *catalogue) save(ctx context.Context, ex execer, id string, p Product, version uint64) error {
	n, err := parseID(id)
	if err != nil {
		return err
	}
	_, err = ex.ExecContext(ctx, c.sqlUpsert, n, p.Name, p.Category, p.Price, p.Rev, int64(version))
	return err
}

// remove deletes the row of id unless its version is newer.
func (c *catalogue) remove(ctx context.Context, ex execer, id string, version uint64) error {
	n, err := parseID(id)
	if err != nil {
		return nil // no such product: nothing to delete
	}
	_, err = ex.ExecContext(ctx, c.sqlDelete, n, int64(version))
	return err
}
