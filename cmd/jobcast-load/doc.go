// Command jobcast-load simulates a job fair against a jobcast node and
// reports what the clients saw and what the server spent. See
// docs/benchmarks.md for the scenarios and `jobcast-load -h` for flags; the
// engine is internal/load.
package main
