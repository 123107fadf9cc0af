package backend

import (
	"database/sql"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/flowfabric/ffsqlite/dbgen"
)

// The stored dedup outcome is typed and CHECK-constrained, so a corrupt
// row cannot be made through the API; the decoder still refuses one.
func TestDecodeUsageOutcome(t *testing.T) {
	t.Parallel()
	row := func(kind string, valid bool, cur, limit int64) dbgen.FfBudgetUsageDedup {
		return dbgen.FfBudgetUsageDedup{
			OutcomeKind: sql.NullString{String: kind, Valid: valid}, OutcomeDimension: "d",
			OutcomeCurrentUsage: cur, OutcomeLimit: limit,
		}
	}
	tests := []struct {
		name    string
		row     dbgen.FfBudgetUsageDedup
		want    ReportUsageResult
		corrupt bool
	}{
		{"Reserved", row("", false, 0, 0), ReportUsageResult{Kind: UsageAlreadyApplied}, false},
		{"OK", row("ok", true, 0, 0), ReportUsageResult{Kind: UsageOK}, false},
		{"Soft", row("soft_breach", true, 7, 5), ReportUsageResult{Kind: UsageSoftBreach, Dimension: "d", CurrentUsage: 7, Limit: 5}, false},
		{"Hard", row("hard_breach", true, 3, 5), ReportUsageResult{Kind: UsageHardBreach, Dimension: "d", CurrentUsage: 3, Limit: 5}, false},
		{"ErrUnknownKind", row("maybe", true, 0, 0), ReportUsageResult{}, true},
		{"ErrNegative", row("hard_breach", true, -1, 5), ReportUsageResult{}, true},
	}
	for _, tt := range tests {
		got, err := decodeUsageOutcome(tt.row)
		if tt.corrupt != errors.Is(err, ErrCorruption) || got != tt.want {
			t.Errorf("%s: decode = %+v, %v; want %+v (corrupt %v)", tt.name, got, err, tt.want, tt.corrupt)
		}
	}
}

func TestWindowSecondsAndSatAdd(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]int64{0: 0, time.Millisecond: 1, time.Second: 1, 1500 * time.Millisecond: 2, time.Minute: 60} {
		if got, err := windowSeconds("op", d); err != nil || got != want {
			t.Errorf("windowSeconds(%v) = %d, %v; want %d", d, got, err, want)
		}
	}
	if _, err := windowSeconds("op", -time.Second); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("negative window = %v, want ErrInvalidInput", err)
	}
	if got := satAdd(math.MaxInt64-1, 5); got != math.MaxInt64 {
		t.Errorf("satAdd overflow = %d", got)
	}
	if got := satAdd(2, 3); got != 5 {
		t.Errorf("satAdd = %d", got)
	}
}
