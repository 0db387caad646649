// Package api holds the HTTP API's request and response types: what the
// orchestrator writes and its Go client (and so the CLI) reads. It holds
// data and its JSON form only, so a client links none of the server.
//
// Every JSON key is lowerCamelCase; durations and latencies carry their
// unit in the key (latencyMs, execP95Ms).
package api
