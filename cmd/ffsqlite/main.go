// Command ffsqlite is the operator CLI of an ffsqlite database: it applies
// and rolls back the schema, lists and inspects executions, flows,
// waitpoints, streams and budgets, and delivers signals.
//
// Usage:
//
//	ffsqlite [--db path] [--json] [-v] <command> [flags] [args]
//
// Global flags (accepted before or after the command):
//
//	--db path   the SQLite database file (default: $FFSQLITE_DB)
//	--json      print machine-readable JSON instead of aligned tables
//	-v          also log the backend's warnings (the dev-mode banner) to stderr
//
// Commands:
//
//	migrate up                    apply every pending migration (creates the file)
//	migrate down                  roll back the most recent migration
//	migrate status                list every migration and whether it is applied
//	executions list               list executions [--partition N] [--lane L]
//	                              [--state S] [--limit N] [--after ID]
//	executions show <id>          snapshot, state vector and attempts of one execution
//	flows show <flow-id>          the flow's members as a tree, with edge states
//	waitpoints list               pending and active waitpoints [--execution ID] [--limit N]
//	signal deliver                deliver a signal to a waitpoint: --execution ID
//	                              --waitpoint ID --token TOKEN --name NAME [--category C
//	                              --source-type T --source-identity I --payload JSON
//	                              --idempotency-key K --correlation-id C]
//	stream tail <id>              print an attempt's stream frames [--attempt N] [--follow]
//	budget status <budget-id>     limits, usage and breach counters of a budget
//
// Every command except migrate opens the database with backend.New, which
// refuses unless FF_DEV_MODE=1 is set in the environment (the CLI never
// sets it itself) and applies pending migrations. Those commands also
// refuse a --db path that does not exist, so a typo never creates an
// empty database. migrate works on the schema only, as the goose CLI
// would, and does not need FF_DEV_MODE; only "migrate up" creates a
// missing file.
//
// With --json each command prints one JSON document on stdout, except
// "stream tail --follow", which prints one JSON object per line (a
// {"event":"frame",...} per frame and a final {"event":"closed",...}).
// Errors go to stderr.
//
// Exit codes:
//
//	0  success
//	1  runtime or backend error
//	2  usage error: unknown command, bad flag or argument
//	3  not found: the execution, flow, waitpoint or budget does not exist
//	4  the database requires FF_DEV_MODE=1 (the backend's dev-mode guard)
//
// Example:
//
//	FF_DEV_MODE=1 ffsqlite --db ff.db executions list --state suspended --json
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/flowfabric/ffsqlite/backend"
)

// Exit codes (documented in the package comment and in usageText).
const (
	exitOK       = 0
	exitError    = 1
	exitUsage    = 2
	exitNotFound = 3
	exitDevMode  = 4
)

// dbEnv is the environment variable read when --db is not given.
const dbEnv = "FFSQLITE_DB"

// usageText is printed for -h, "help" and a missing or unknown command.
const usageText = `usage: ffsqlite [--db path] [--json] [-v] <command> [flags] [args]

Global flags (accepted before or after the command):
  --db path   the SQLite database file (default: $FFSQLITE_DB)
  --json      print JSON instead of aligned tables
  -v          also log the backend's warnings (the dev-mode banner)

Commands:
  migrate up                  apply every pending migration (creates the file)
  migrate down                roll back the most recent migration
  migrate status              list every migration and whether it is applied
  executions list             [--partition N] [--lane L] [--state S] [--limit N] [--after ID]
  executions show <id>        snapshot, state vector and attempts of one execution
  flows show <flow-id>        the flow's members as a tree, with edge states
  waitpoints list             pending and active waitpoints [--execution ID] [--limit N]
  signal deliver              --execution ID --waitpoint ID --token TOKEN --name NAME
                              [--category C] [--source-type T] [--source-identity I]
                              [--payload JSON] [--idempotency-key K] [--correlation-id C]
  stream tail <id>            print an attempt's frames [--attempt N] [--follow]
  budget status <budget-id>   limits, usage and breach counters of a budget

Every command but migrate needs FF_DEV_MODE=1 (the backend refuses
otherwise) and an existing database file. Run "ffsqlite <command> -h" for
a command's flags.

Exit codes:
  0  success
  1  runtime or backend error
  2  usage error (unknown command, bad flag or argument)
  3  not found (execution, flow, waitpoint or budget)
  4  the database requires FF_DEV_MODE=1
`

func main() {
	// SIGINT/SIGTERM cancel ctx: "stream tail --follow" ends cleanly and
	// every other command aborts its transaction.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the process exit code. It is
// main without the process globals.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	err := c.dispatch(args)
	code := exitCode(err)
	if err != nil && !errors.Is(err, flag.ErrHelp) && !isPrinted(err) {
		fmt.Fprintf(stderr, "ffsqlite: %v\n", err)
		if code == exitUsage {
			fmt.Fprintln(stderr, `run "ffsqlite -h" for usage`)
		}
	}
	return code
}

// command is one "<group> <verb>" handler; args are what follows the verb.
type command func(c *cli, args []string) error

// commands maps group → verb → handler.
var commands = map[string]map[string]command{
	"budget":     {"status": (*cli).budgetStatus},
	"executions": {"list": (*cli).executionsList, "show": (*cli).executionsShow},
	"flows":      {"show": (*cli).flowsShow},
	"migrate":    {"down": (*cli).migrateDown, "status": (*cli).migrateStatus, "up": (*cli).migrateUp},
	"signal":     {"deliver": (*cli).signalDeliver},
	"stream":     {"tail": (*cli).streamTail},
	"waitpoints": {"list": (*cli).waitpointsList},
}

// dispatch parses the global flags and runs the named command.
func (c *cli) dispatch(args []string) error {
	fs := flag.NewFlagSet("ffsqlite", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() { fmt.Fprint(c.stderr, usageText) }
	c.globalFlags(fs)
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(c.stderr, usageText)
		return printed(usagef("missing command"))
	}
	if rest[0] == "help" {
		fmt.Fprint(c.stdout, usageText)
		return nil
	}
	verbs, ok := commands[rest[0]]
	if !ok {
		return usagef("unknown command %q", rest[0])
	}
	if len(rest) < 2 {
		return usagef("%s: missing subcommand (one of %s)", rest[0], verbList(verbs))
	}
	cmd, ok := verbs[rest[1]]
	if !ok {
		return usagef("%s: unknown subcommand %q (one of %s)", rest[0], rest[1], verbList(verbs))
	}
	if err := cmd(c, rest[2:]); err != nil {
		// The guard's message is contractual: print it as is.
		var ue *usageError
		if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) || errors.Is(err, backend.ErrRequiresDevMode) {
			return err
		}
		return fmt.Errorf("%s %s: %w", rest[0], rest[1], err)
	}
	return nil
}
