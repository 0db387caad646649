// Package workflow holds Baton's workflow DSL: the types of a workflow
// document (apiVersion baton.dev/v1, kind Workflow), its YAML parsing and
// validation with positioned, did-you-mean problems, graph queries over the
// stages, and the DAG engine that runs one invocation stage by stage.
//
// The package imports nothing else of Baton's. Parsing never panics on bad
// input: every problem found in a document is reported at once as a
// *Problems error, each Problem carrying file, line, column and field path.
package workflow
