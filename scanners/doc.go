// Package scanners configures and runs the background reconcilers that keep
// an ffsqlite database correct with no other process running: lease expiry
// and reclaim, delayed and backing-off executions falling due, attempt and
// execution timeouts, suspension timeouts, dependency resolution and flow
// cancel cascades, budget resets, unblocking, and retention.
//
// Install them with SQLiteBackend.WithScanners(scanners.DefaultConfig());
// a Supervisor runs each Job on its own interval, one short transaction per
// row, and stops them when the backend closes. Tests drive a single pass
// with SQLiteBackend.RunScannerOnce instead of waiting for an interval.
package scanners
