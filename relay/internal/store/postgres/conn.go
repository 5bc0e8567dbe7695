package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/buzzrelay/buzz/relay/internal/store/eventquery"
	"github.com/buzzrelay/buzz/relay/internal/store/records"
)

// poolDB runs the shared packages' statements (eventquery, records) on the
// pool.
type poolDB struct{ pool *pgxpool.Pool }

var (
	_ eventquery.DB = poolDB{}
	_ records.DB    = poolDB{}
)

func (p poolDB) Query(ctx context.Context, sql string, args ...any) (records.Rows, func(), error) {
	rows, err := p.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, nil, err
	}
	return rows, rows.Close, nil
}

func (p poolDB) QueryRow(ctx context.Context, sql string, args ...any) records.Row {
	return p.pool.QueryRow(ctx, sql, args...)
}

func (p poolDB) Exec(ctx context.Context, sql string, args ...any) error {
	_, err := p.pool.Exec(ctx, sql, args...)
	return err
}

func (p poolDB) NoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
