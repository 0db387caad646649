package api

import "baton.dev/baton/workflow"

// ErrorBody is the body of every answer other than success.
type ErrorBody struct {
	Error string `json:"error"`
	// Problems lists a deployed document's validation problems, each at
	// its file, line and column, when they are why a deploy was refused.
	Problems workflow.Problems `json:"problems,omitempty"`
	// InvocationID names the invocation that failed, when one did.
	InvocationID string `json:"invocationId,omitempty"`
	// Stage names the stage that failed it.
	Stage string `json:"stage,omitempty"`
}
