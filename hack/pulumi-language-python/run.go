package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// bailExitCode is what pulumi-language-python-exec exits with after it has already shown the user an
// actionable error; the engine then must not print a second, generic failure.
const bailExitCode = 32

// programPath is the file or directory the exec script hands to runpy.run_path.
func programPath(req *pulumirpc.RunRequest) string {
	info := req.GetInfo()
	if info != nil && info.GetProgramDirectory() != "" {
		entry := info.GetEntryPoint()
		if entry == "" {
			entry = "."
		}
		if filepath.IsAbs(entry) {
			return entry
		}
		return filepath.Join(info.GetProgramDirectory(), entry)
	}
	return req.GetProgram()
}

// execArgs builds the argument list for `python -u pulumi-language-python-exec ...`; the flags are the ones
// the exec script's argparse declares.
func execArgs(execPath, engineAddress, tracing string, req *pulumirpc.RunRequest) []string {
	args := []string{"-u", execPath,
		"--monitor", req.GetMonitorAddress(),
		"--engine", engineAddress,
		"--project", req.GetProject(),
		"--stack", req.GetStack(),
		"--pwd", req.GetPwd(),
		"--dry_run", strconv.FormatBool(req.GetDryRun()),
		// The script does int(args.parallel) unconditionally, so always pass a number.
		"--parallel", strconv.Itoa(int(req.GetParallel())),
	}
	if org := req.GetOrganization(); org != "" {
		args = append(args, "--organization", org)
	}
	if root := req.GetInfo().GetRootDirectory(); root != "" {
		args = append(args, "--root_directory", root)
	}
	if tracing != "" {
		args = append(args, "--tracing", tracing)
	}
	args = append(args, programPath(req))
	return append(args, req.GetArgs()...)
}

// configEnv is how the Python SDK receives stack configuration: PULUMI_CONFIG is a JSON object of
// "namespace:key" -> string value, PULUMI_CONFIG_SECRET_KEYS a JSON list of the keys that are secrets
// (pulumi/runtime/config.py reads both).
func configEnv(req *pulumirpc.RunRequest) ([]string, error) {
	config := req.GetConfig()
	if config == nil {
		config = map[string]string{}
	}
	cfg, err := json.Marshal(config)
	if err != nil {
		return nil, fmt.Errorf("encoding config: %w", err)
	}
	secretKeys := append([]string{}, req.GetConfigSecretKeys()...)
	sort.Strings(secretKeys)
	keys, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("encoding secret config keys: %w", err)
	}
	return []string{"PULUMI_CONFIG=" + string(cfg), "PULUMI_CONFIG_SECRET_KEYS=" + string(keys)}, nil
}

// runOutcome maps the program's exit status onto the RunResponse the engine expects.
func runOutcome(exitCode int) *pulumirpc.RunResponse {
	switch exitCode {
	case 0:
		return &pulumirpc.RunResponse{}
	case bailExitCode:
		return &pulumirpc.RunResponse{Bail: true}
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitCode)}
	}
}
