// Package migrations holds the goose SQL migrations that own the ffsqlite
// schema. The same files are sqlc's schema input, so the typed queries in
// dbgen always compile against exactly what a database opened by the
// backend contains.
package migrations

import "embed"

// FS holds every migration file. The backend applies them at open through
// a goose Provider; the goose CLI applies the same files in development.
//
//go:embed *.sql
var FS embed.FS
