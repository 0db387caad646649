package registry

// ExplainForTest is explain, for the external tests.
var ExplainForTest = explain
