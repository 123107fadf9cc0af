// Package backend is ffsqlite's durable execution engine: the
// EngineBackend contract implemented on one SQLite database.
//
// Producers create executions on lanes; workers Claim them under a lease
// (a Handle carrying the attempt, lease id and fencing epoch), Renew and
// report Progress, and end them with Complete, Fail (retried with backoff
// per the execution's RetryPolicy), Cancel, Delay or WaitChildren.
// Operators steer with CancelExecution, RevokeLease, ChangePriority and
// ReplayExecution; schedulers may use claim grants instead of Claim.
//
// Every method runs as exactly one SQLite transaction: it validates its
// input first (bad input never writes), decides the state transition in
// Go, writes the rows and their outbox events together, and commits.
// Errors are *Error values matched with errors.Is against the sentinels
// (ErrStaleLease, ErrLeaseExpired, ErrNotFound, ErrInvalidInput, …).
//
// # SQLite specifics
//
// SQLite has one writer. A file database gets a writer pool of exactly one
// connection whose transactions begin with BEGIN IMMEDIATE, and a
// read-only pool for reads; busy/locked faults are retried inside the
// write helper. Memory databases ("file:<name>?mode=memory&cache=shared")
// use one connection for both and vanish with their last Close. Opening the
// same database twice in a process shares one inner state, so in-process
// wake-ups reach every opener; several processes may share a file, with
// wake-ups then arriving by polling.
//
// All instants the engine stores come from the Clock in Options (inject a
// FakeClock in tests and drive scanners with RunScannerOnce); waiting
// (Claim's MaxWait, scanner cadences) uses real time.
//
// The backend is dev-only by contract: every constructor refuses unless
// FF_DEV_MODE=1.
package backend
