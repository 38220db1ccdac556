package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// interruptGrace is how long a program gets to exit after SIGTERM before it is killed.
const interruptGrace = 10 * time.Second

type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	execPath string
	tracing  string

	mu            sync.Mutex
	engineAddress string
	running       map[*exec.Cmd]struct{}
}

func newLanguageHost(engineAddress, tracing, execPath string) *languageHost {
	return &languageHost{
		engineAddress: engineAddress,
		tracing:       tracing,
		execPath:      execPath,
		running:       map[*exec.Cmd]struct{}{},
	}
}

func (h *languageHost) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *languageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: strings.TrimPrefix(version.Version, "v")}, nil
}

// Programs run by this host use Python dynamic providers only, which need no provider plugin: report none,
// so the engine never tries to install (download) anything.
func (h *languageHost) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *languageHost) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	python, err := resolveInterpreter(optionsOf(req.GetInfo()), req.GetInfo().GetRootDirectory(), os.Getenv)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	cfgEnv, err := configEnv(req)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	engine := h.engineAddress
	h.mu.Unlock()

	cmd := exec.CommandContext(ctx, python.Python, execArgs(h.execPath, engine, h.tracing, req)...)
	cmd.Dir = req.GetPwd()
	cmd.Env = append(python.environ(os.Environ()), cfgEnv...)
	// The engine shows the language host's stdout/stderr to the user; the program's output goes there too.
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	// When the engine gives up on the run (it cancels the request after a failed resource) the program is
	// stopped with SIGTERM: Python's default action ends it quietly, where SIGINT would print a
	// KeyboardInterrupt traceback into the user's output. Ctrl-C reaches the program directly anyway.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = interruptGrace
	logging.V(5).Infof("running %s %v", python.Python, cmd.Args[1:])

	if err := cmd.Start(); err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not start %s: %v", python.Python, err)}, nil
	}
	h.track(cmd, true)
	err = cmd.Wait()
	h.track(cmd, false)

	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return runOutcome(0), nil
	case errors.As(err, &exitErr) && exitErr.ExitCode() >= 0:
		return runOutcome(exitErr.ExitCode()), nil
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("running the Python program failed: %v", err)}, nil
	}
}

func (h *languageHost) track(cmd *exec.Cmd, add bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if add {
		h.running[cmd] = struct{}{}
	} else {
		delete(h.running, cmd)
	}
}

// Cancel stops programs still running (SIGTERM, as above); the engine calls it when shutting the host down.
func (h *languageHost) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for cmd := range h.running {
		if cmd.Process != nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	return &emptypb.Empty{}, nil
}

// Dependencies live in the project's virtualenv, which the project's own setup installs; say so instead of
// failing, so `pulumi install` and `pulumi new` do not break.
func (h *languageHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, stream grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	msg := "pulumi-language-python (neon-checkpoints build): dependencies are not installed by Pulumi; " +
		"install them into the project's virtualenv instead (make setup).\n"
	return stream.Send(&pulumirpc.InstallDependenciesResponse{Stdout: []byte(msg)})
}

func (h *languageHost) RuntimeOptionsPrompts(
	context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

func (h *languageHost) Template(context.Context, *pulumirpc.TemplateRequest) (*pulumirpc.TemplateResponse, error) {
	return &pulumirpc.TemplateResponse{}, nil
}

func (h *languageHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	python, err := resolveInterpreter(optionsOf(req.GetInfo()), req.GetInfo().GetRootDirectory(), os.Getenv)
	if err != nil {
		return nil, err
	}
	out, err := pythonOutput(ctx, python, "import platform; print(platform.python_version())")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: python.Python,
		Version:    strings.TrimSpace(out),
		Metadata:   map[string]string{"virtualenv": python.VirtualEnv},
	}, nil
}

// distributionsScript prints every installed distribution as [name, version] pairs.
const distributionsScript = "import json, importlib.metadata as m; " +
	"print(json.dumps(sorted({(d.metadata['Name'] or '', d.version) for d in m.distributions()})))"

func (h *languageHost) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	python, err := resolveInterpreter(optionsOf(req.GetInfo()), req.GetInfo().GetRootDirectory(), os.Getenv)
	if err != nil {
		return nil, err
	}
	out, err := pythonOutput(ctx, python, distributionsScript)
	if err != nil {
		return nil, err
	}
	var pairs [][2]string
	if err := json.Unmarshal([]byte(out), &pairs); err != nil {
		return nil, fmt.Errorf("parsing the installed distributions: %w", err)
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, p := range pairs {
		if p[0] != "" {
			resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: p[0], Version: p[1]})
		}
	}
	return resp, nil
}

func pythonOutput(ctx context.Context, python interpreter, script string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python.Python, "-c", script)
	cmd.Env = python.environ(os.Environ())
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("running %s: %w", python.Python, err)
	}
	return string(out), nil
}

func optionsOf(info *pulumirpc.ProgramInfo) map[string]any {
	if info == nil || info.GetOptions() == nil {
		return map[string]any{}
	}
	return info.GetOptions().AsMap()
}
