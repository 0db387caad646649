package containerd

import (
	"context"
	"fmt"
	"time"

	"github.com/containerd/containerd"

	"baton.dev/baton/worker"
)

// waitHealthy is worker.WaitHealthy on a task's exit channel.
func waitHealthy(ctx context.Context, endpoint string, timeout time.Duration, exited <-chan containerd.ExitStatus, verify func(worker.Conn) error) error {
	ended := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop)
	var how string
	go func() {
		select {
		case st := <-exited:
			code, _, err := st.Result()
			if err != nil {
				how = fmt.Sprintf("ended (%v)", err)
			} else {
				how = fmt.Sprintf("exited with status %d", code)
			}
			close(ended)
		case <-stop:
		}
	}()
	return worker.WaitHealthy(ctx, endpoint, timeout, ended, func() string { return how }, verify)
}
