package workflow

// The YAML field names of each mapping of a workflow document, in the
// order the documentation lists them. The parser accepts exactly these (an
// unknown field is a problem with a did-you-mean) and JSONSchema describes
// exactly these, so the two cannot drift apart.
var (
	documentFields  = []string{"apiVersion", "kind", "metadata", "spec"}
	metadataFields  = []string{"name"}
	specFields      = []string{"qos", "timeout", "network", "queue", "functions", "stages"}
	queueFields     = []string{"maxWaiting", "maxWait"}
	networkFields   = []string{"egress"}
	qosFields       = []string{"latency", "percentile"}
	functionFields  = []string{"image", "resources", "bounds", "env", "idempotent", "security"}
	securityFields  = []string{"capabilities", "runAsRoot", "privileged", "hostPaths"}
	resourcesFields = []string{"cpu", "memory"}
	boundsFields    = []string{"cpu", "memory"}
	stageFields     = []string{"name", "function", "needs", "foreach", "maxParallel", "when", "timeout", "retries", "onError"}
)
