package changefeed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// session is one replication connection's state.
type session struct {
	f         *Feed
	conn      *pgconn.PgConn
	relations map[uint32]*pglogrepl.RelationMessage
	inTxn     bool
	pending   Invalidations
	seen      map[string]bool // dedup of pending, "i:id", "t:tag", "n:ns"
	flush     bool            // a TRUNCATE of a table without Namespaces
	confirmed pglogrepl.LSN   // everything before it is applied once
	repeats   []repeat        // transactions waiting for their second application
}

// stream consumes the slot from its confirmed position until ctx is done or
// an error.
func (f *Feed) stream(ctx context.Context) error {
	cfg, err := pgconn.ParseConfig(f.opts.ConnString)
	if err != nil {
		return fmt.Errorf("hoard: changefeed: %w", err)
	}
	cfg.RuntimeParams["replication"] = "database"
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("hoard: changefeed: replication connection: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		// Abandoned either way: unconfirmed changes are replayed.
		_ = conn.Close(cctx)
	}()
	// Position 0: the server starts at the slot's confirmed position.
	err = pglogrepl.StartReplication(ctx, conn, f.opts.Slot, 0, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "publication_names '" + f.opts.Slot + "'"},
	})
	if err != nil {
		return fmt.Errorf("hoard: changefeed: start replication on slot %s: %w", f.opts.Slot, err)
	}
	f.streaming.Store(true)
	defer f.streaming.Store(false)
	s := &session{f: f, conn: conn, relations: map[uint32]*pglogrepl.RelationMessage{}}
	return s.run(ctx)
}

func (s *session) run(ctx context.Context) error {
	next := time.Now().Add(s.f.opts.StatusInterval)
	for {
		if !time.Now().Before(next) {
			if err := s.report(ctx); err != nil {
				return err
			}
			next = time.Now().Add(s.f.opts.StatusInterval)
		}
		repeated, err := s.repeatDue(ctx)
		if err != nil {
			return err
		}
		if repeated {
			if err := s.report(ctx); err != nil {
				return err
			}
		}
		rctx, cancel := context.WithDeadline(ctx, s.deadline(next))
		raw, err := s.conn.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if pgconn.Timeout(err) {
				continue
			}
			return fmt.Errorf("hoard: changefeed: receive: %w", err)
		}
		switch m := raw.(type) {
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("hoard: changefeed: server: %w", pgconn.ErrorResponseToPgError(m))
		case *pgproto3.CopyData:
			reply, err := s.copyData(ctx, m.Data)
			if err != nil {
				return err
			}
			if reply {
				next = time.Time{}
			}
		}
	}
}

// report tells the server how far the changes are applied: the slot may
// free the WAL before it.
func (s *session) report(ctx context.Context) error {
	err := pglogrepl.SendStandbyStatusUpdate(ctx, s.conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: s.position()})
	if err != nil {
		return fmt.Errorf("hoard: changefeed: status update: %w", err)
	}
	return nil
}

// copyData handles one message of the stream; reply tells that the server
// asked for a status update.
func (s *session) copyData(ctx context.Context, data []byte) (reply bool, err error) {
	if len(data) == 0 {
		return false, errors.New("hoard: changefeed: empty message")
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		k, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return false, fmt.Errorf("hoard: changefeed: keepalive: %w", err)
		}
		// Between transactions, everything the server sent before this
		// keepalive is applied: confirm up to its position, so WAL of
		// unpublished tables is not retained. A transaction still open
		// there commits later, past it, and is sent then.
		if !s.inTxn && k.ServerWALEnd > s.confirmed {
			s.confirmed = k.ServerWALEnd
		}
		return k.ReplyRequested, nil
	case pglogrepl.XLogDataByteID:
		x, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return false, fmt.Errorf("hoard: changefeed: xlog data: %w", err)
		}
		return false, s.logical(ctx, x.WALData)
	}
	return false, nil
}

// logical handles one pgoutput message.
func (s *session) logical(ctx context.Context, data []byte) error {
	msg, err := pglogrepl.Parse(data)
	if err != nil {
		return fmt.Errorf("hoard: changefeed: pgoutput: %w", err)
	}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		s.relations[m.RelationID] = m
	case *pglogrepl.BeginMessage:
		s.inTxn, s.pending, s.seen, s.flush = true, Invalidations{}, map[string]bool{}, false
	case *pglogrepl.InsertMessage:
		return s.change(m.RelationID, Insert, nil, m.Tuple)
	case *pglogrepl.UpdateMessage:
		return s.change(m.RelationID, Update, m.OldTuple, m.NewTuple)
	case *pglogrepl.DeleteMessage:
		return s.change(m.RelationID, Delete, m.OldTuple, nil)
	case *pglogrepl.TruncateMessage:
		for _, id := range m.RelationIDs {
			if err := s.truncate(id); err != nil {
				return err
			}
		}
	case *pglogrepl.CommitMessage:
		return s.commit(ctx, pglogrepl.LSN(m.TransactionEndLSN))
	}
	return nil
}

// commit applies the transaction's invalidations, then confirms it.
func (s *session) commit(ctx context.Context, end pglogrepl.LSN) error {
	s.inTxn = false
	if s.flush {
		if err := s.f.opts.Sink.Flush(ctx); err != nil {
			return fmt.Errorf("hoard: changefeed: flush for a TRUNCATE (the transaction ending at %s is replayed): %w", end, err)
		}
		s.f.flushes.Add(1)
	}
	if !s.pending.empty() {
		if err := s.f.opts.Sink.Invalidate(ctx, s.pending); err != nil {
			return fmt.Errorf("hoard: changefeed: sink (the transaction ending at %s is replayed): %w", end, err)
		}
	}
	s.f.txns.Add(1)
	if s.f.opts.Repeat > 0 && (s.flush || !s.pending.empty()) {
		s.repeats = append(s.repeats, repeat{at: time.Now().Add(s.f.opts.Repeat), inv: s.pending, flush: s.flush, before: s.position(), end: end})
		s.f.pending.Store(int64(len(s.repeats)))
	}
	if end > s.confirmed {
		s.confirmed = end
	}
	// Confirm at once: a takeover replays as little as possible.
	return s.report(ctx)
}

func (s *session) table(id uint32) (*Table, *pglogrepl.RelationMessage, error) {
	rel, ok := s.relations[id]
	if !ok {
		return nil, nil, fmt.Errorf("hoard: changefeed: change to relation %d before its description", id)
	}
	t := s.f.tables[rel.Namespace+"."+rel.RelationName]
	return t, rel, nil // t is nil for a table added to the publication by hand
}

func (s *session) change(id uint32, op Op, old, new *pglogrepl.TupleData) error {
	t, rel, err := s.table(id)
	if err != nil || t == nil {
		return err
	}
	for _, tuple := range []*pglogrepl.TupleData{old, new} {
		if tuple == nil {
			continue
		}
		row := decode(rel, tuple)
		if t.IDs != nil {
			s.add(&s.pending.IDs, "i:", t.IDs(row))
		}
		if t.Tags != nil {
			s.add(&s.pending.Tags, "t:", t.Tags(row))
		}
	}
	s.add(&s.pending.Namespaces, "n:", t.Namespaces)
	return nil
}

func (s *session) truncate(id uint32) error {
	t, _, err := s.table(id)
	if err != nil || t == nil {
		return err
	}
	if len(t.Namespaces) == 0 {
		s.flush = true // no namespace to bump: flush everything
		return nil
	}
	s.add(&s.pending.Namespaces, "n:", t.Namespaces)
	return nil
}

func (s *session) add(dst *[]string, kind string, values []string) {
	for _, v := range values {
		if !s.seen[kind+v] {
			s.seen[kind+v] = true
			*dst = append(*dst, v)
		}
	}
}

// decode returns a tuple's columns in text format; NULL and unchanged
// TOAST columns are left out.
func decode(rel *pglogrepl.RelationMessage, tuple *pglogrepl.TupleData) Row {
	row := make(Row, len(tuple.Columns))
	for i, col := range tuple.Columns {
		if i < len(rel.Columns) && col.DataType == pglogrepl.TupleDataTypeText {
			row[rel.Columns[i].Name] = string(col.Data)
		}
	}
	return row
}
