// Command pulumi-language-python is a small Pulumi language host for Python programs.
//
// Upstream's host lives in an untagged Go module that the module proxy here does not serve, so the project
// builds this one next to the Pulumi CLI (hack/build-tools.sh). It covers what `pulumi up/preview/refresh/
// destroy` need for programs whose resources come from Python dynamic providers: it runs the program through
// the SDK's pulumi-language-python-exec script and reports no plugin requirements.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

func main() {
	if err := serve(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
		os.Exit(1)
	}
}

func serve(argv []string) error {
	// The engine starts language plugins as: [--logtostderr] [-v=N] [--tracing URL] <engine address>.
	fs := flag.NewFlagSet("pulumi-language-python", flag.ContinueOnError)
	logToStderr := fs.Bool("logtostderr", false, "log to stderr instead of files")
	verbose := fs.Int("v", 0, "log verbosity")
	tracing := fs.String("tracing", "", "Zipkin-compatible tracing endpoint, passed on to the program")
	executor := fs.String("use-executor", "", "path of pulumi-language-python-exec (default: next to this binary)")
	if err := fs.Parse(argv); err != nil {
		return err
	}
	logging.InitLogging(*logToStderr, *verbose, true)
	defer logging.Flush()

	var engineAddress string
	if fs.NArg() > 0 {
		engineAddress = fs.Arg(fs.NArg() - 1)
	}
	execPath, err := findExecutor(*executor)
	if err != nil {
		return err
	}

	host := newLanguageHost(engineAddress, *tracing, execPath)
	cancel := make(chan bool)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("could not start the language host gRPC server: %w", err)
	}
	// The engine reads exactly one line from stdout: the port to dial.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		return fmt.Errorf("language host stopped: %w", err)
	}
	return nil
}
