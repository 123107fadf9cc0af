package backend

// Page is one page of a cursor-paginated listing. Items holds at most the
// requested limit of entries in ascending order; Next is the cursor to pass
// to the following call, and is the zero value ("") when there are no more
// entries. An exactly-full last page also returns a zero Next.
type Page[T any, C ~string] struct {
	Items []T
	Next  C
}

// Ptr returns a pointer to v. It is a convenience for the few optional
// fields whose zero value is meaningful (see the API conventions).
func Ptr[T any](v T) *T {
	return &v
}
