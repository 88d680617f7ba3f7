module github.com/streamcrypt/scdb

go 1.26.0

require (
	github.com/cespare/xxhash/v2 v2.3.0
	golang.org/x/crypto v0.59.0
	golang.org/x/term v0.48.0
	pgregory.net/rapid v1.3.0
)

require golang.org/x/sys v0.50.0 // indirect
