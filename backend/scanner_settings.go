package backend

import (
	"database/sql"
	"time"

	"github.com/flowfabric/ffsqlite/scanners"
)

// scannerSettings are the Config values a tick needs beyond its cadence:
// the retention age, the dependency reconciler's stale threshold and the
// execution filter.
type scannerSettings struct {
	retention      time.Duration
	staleThreshold time.Duration
	filter         scanners.Filter
}

// scannerSettings returns the installed supervisor's settings, or the
// defaults when none is installed: RunScannerOnce takes no Config, and a
// test (or process) that installed one expects its ticks to honour it.
func (db *database) scannerSettings() scannerSettings {
	db.scannerMu.Lock()
	cfg := db.scannerCfg
	db.scannerMu.Unlock()
	s := scannerSettings{retention: scanners.RetentionDefault, staleThreshold: scanners.DependencyStaleThresholdDefault}
	if cfg == nil {
		return s
	}
	if cfg.Retention > 0 {
		s.retention = cfg.Retention
	}
	if cfg.DependencyStaleThreshold > 0 {
		s.staleThreshold = cfg.DependencyStaleThreshold
	}
	s.filter = cfg.Filter
	return s
}

// filterArgs renders a Filter as the (namespace, tag_set, instance_tag)
// parameters the scanner queries take: "" and 0 match everything.
func filterArgs(f scanners.Filter) (string, int64, sql.NullString) {
	if f.InstanceTag == nil {
		return f.Namespace, 0, sql.NullString{}
	}
	return f.Namespace, 1, sql.NullString{String: f.InstanceTag.Value, Valid: true}
}

// addTick folds another tick's counts into r.
func addTick(r *scanners.TickResult, o scanners.TickResult) {
	r.Processed += o.Processed
	r.Errors += o.Errors
}
