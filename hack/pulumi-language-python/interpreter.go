package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// interpreter is the Python that runs a program, plus the environment changes that make it behave like an
// activated virtualenv.
type interpreter struct {
	Python     string
	VirtualEnv string // absolute; empty when not using one
}

// resolveInterpreter follows the same order as the dynamic-provider script the engine runs for the same
// project (PULUMI_RUNTIME_VIRTUALENV there): the Pulumi.yaml `virtualenv` option (relative to the project's
// root directory), else PULUMI_PYTHON_CMD, else python3 from PATH.
func resolveInterpreter(options map[string]any, rootDir string, getenv func(string) string) (interpreter, error) {
	if toolchain, _ := options["toolchain"].(string); toolchain != "" && toolchain != "pip" {
		return interpreter{}, fmt.Errorf(
			"runtime option toolchain=%q is not supported by this language host (only pip + virtualenv)", toolchain)
	}
	if venv, _ := options["virtualenv"].(string); venv != "" {
		if !filepath.IsAbs(venv) {
			venv = filepath.Join(rootDir, venv)
		}
		venv = filepath.Clean(venv)
		python := filepath.Join(venv, "bin", "python")
		if _, err := os.Stat(python); err != nil {
			return interpreter{}, fmt.Errorf(
				"the 'virtualenv' option in Pulumi.yaml points at %s, which has no bin/python: "+
					"create it (python3 -m venv) and install the program's dependencies into it", venv)
		}
		return interpreter{Python: python, VirtualEnv: venv}, nil
	}
	cmd := getenv("PULUMI_PYTHON_CMD")
	if cmd == "" {
		cmd = "python3"
	}
	python, err := exec.LookPath(cmd)
	if err != nil {
		return interpreter{}, fmt.Errorf("python interpreter %q not found (set PULUMI_PYTHON_CMD or the "+
			"'virtualenv' runtime option): %w", cmd, err)
	}
	return interpreter{Python: python}, nil
}

// environ returns base adjusted for the virtualenv: VIRTUAL_ENV set, its bin/ first on PATH, no PYTHONHOME.
func (i interpreter) environ(base []string) []string {
	if i.VirtualEnv == "" {
		return base
	}
	out := make([]string, 0, len(base)+2)
	path := ""
	for _, kv := range base {
		switch {
		case strings.HasPrefix(kv, "PATH="):
			path = strings.TrimPrefix(kv, "PATH=")
		case strings.HasPrefix(kv, "PYTHONHOME="), strings.HasPrefix(kv, "VIRTUAL_ENV="):
		default:
			out = append(out, kv)
		}
	}
	bin := filepath.Join(i.VirtualEnv, "bin")
	if path != "" {
		bin += string(os.PathListSeparator) + path
	}
	return append(out, "PATH="+bin, "VIRTUAL_ENV="+i.VirtualEnv)
}

// findExecutor locates pulumi-language-python-exec: it ships next to this binary (as upstream's CLI does).
func findExecutor(override string) (string, error) {
	if override != "" {
		return override, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot locate own executable: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	candidate := filepath.Join(filepath.Dir(self), "pulumi-language-python-exec")
	if _, err := os.Stat(candidate); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("missing executor %s: it must sit next to pulumi-language-python", candidate)
		}
		return "", err
	}
	return candidate, nil
}
