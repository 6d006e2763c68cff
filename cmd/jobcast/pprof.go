package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
)

// JOBCAST_PPROF_ADDR (opt-in, for profiling load runs) serves
// /debug/pprof/ on a separate listener. Only loopback addresses are
// accepted (e.g. 127.0.0.1:6060); anything else is refused at start so the
// profiler can never be exposed with the public listener.
func init() {
	addr := os.Getenv("JOBCAST_PPROF_ADDR")
	if addr == "" {
		return
	}
	host, _, err := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	if err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(os.Stderr, "jobcast: JOBCAST_PPROF_ADDR=%q: a loopback host:port is required; profiler not started\n", addr)
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "jobcast: pprof listener:", err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() { _ = http.Serve(ln, mux) }() // lives as long as the process
}
