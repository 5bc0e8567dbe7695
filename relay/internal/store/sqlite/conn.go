package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/buzzrelay/buzz/relay/internal/store/eventquery"
	"github.com/buzzrelay/buzz/relay/internal/store/records"
)

// sqlDB runs the shared packages' statements (eventquery, records) on the
// database.
type sqlDB struct{ db *sql.DB }

var (
	_ eventquery.DB = sqlDB{}
	_ records.DB    = sqlDB{}
)

func (d sqlDB) Query(ctx context.Context, q string, args ...any) (records.Rows, func(), error) {
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, nil, err
	}
	return rows, func() { _ = rows.Close() }, nil
}

func (d sqlDB) QueryRow(ctx context.Context, q string, args ...any) records.Row {
	return d.db.QueryRowContext(ctx, q, args...)
}

func (d sqlDB) Exec(ctx context.Context, q string, args ...any) error {
	_, err := d.db.ExecContext(ctx, q, args...)
	return err
}

func (d sqlDB) NoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
