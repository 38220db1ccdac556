package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestExecArgsCarryEveryFlagTheScriptReads(t *testing.T) {
	req := &pulumirpc.RunRequest{
		MonitorAddress: "127.0.0.1:1", Project: "p", Stack: "s", Pwd: "/prog", DryRun: true, Parallel: 8,
		Organization: "org", Args: []string{"extra"},
		Info: &pulumirpc.ProgramInfo{RootDirectory: "/root", ProgramDirectory: "/prog", EntryPoint: "."},
	}
	got := execArgs("/bin/exec", "127.0.0.1:2", "", req)
	want := []string{"-u", "/bin/exec", "--monitor", "127.0.0.1:1", "--engine", "127.0.0.1:2", "--project", "p",
		"--stack", "s", "--pwd", "/prog", "--dry_run", "true", "--parallel", "8", "--organization", "org",
		"--root_directory", "/root", "/prog", "extra"}
	if !slices.Equal(got, want) {
		t.Fatalf("execArgs:\n got %q\nwant %q", got, want)
	}
}

func TestConfigEnvIsJSONTheSDKParses(t *testing.T) {
	env, err := configEnv(&pulumirpc.RunRequest{
		Config:           map[string]string{"neon:apiKey": "k", "app:name": "demo"},
		ConfigSecretKeys: []string{"neon:apiKey"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]string
	var keys []string
	if err := json.Unmarshal([]byte(strings.TrimPrefix(env[0], "PULUMI_CONFIG=")), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(env[1], "PULUMI_CONFIG_SECRET_KEYS=")), &keys); err != nil {
		t.Fatal(err)
	}
	if cfg["app:name"] != "demo" || cfg["neon:apiKey"] != "k" || !slices.Equal(keys, []string{"neon:apiKey"}) {
		t.Fatalf("unexpected config env %q", env)
	}
}

func TestExitCodes(t *testing.T) {
	if r := runOutcome(0); r.Error != "" || r.Bail {
		t.Fatalf("0: %v", r)
	}
	if r := runOutcome(32); !r.Bail || r.Error != "" {
		t.Fatalf("32 must bail: %v", r)
	}
	if r := runOutcome(1); r.Error == "" || r.Bail {
		t.Fatalf("1 must be an error: %v", r)
	}
}

func TestVirtualenvIsRelativeToRoot(t *testing.T) {
	root := t.TempDir()
	venv := filepath.Join(root, "..", filepath.Base(root)+"-venv")
	if err := os.MkdirAll(filepath.Join(venv, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(venv) })
	if err := os.WriteFile(filepath.Join(venv, "bin", "python"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	opts, _ := structpb.NewStruct(map[string]any{"virtualenv": "../" + filepath.Base(venv)})
	got, err := resolveInterpreter(opts.AsMap(), root, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if got.Python != filepath.Join(filepath.Clean(venv), "bin", "python") {
		t.Fatalf("python = %s", got.Python)
	}
	env := got.environ([]string{"PATH=/usr/bin", "PYTHONHOME=/x"})
	if !slices.Contains(env, "PATH="+filepath.Join(filepath.Clean(venv), "bin")+":/usr/bin") ||
		slices.ContainsFunc(env, func(s string) bool { return strings.HasPrefix(s, "PYTHONHOME=") }) {
		t.Fatalf("env = %q", env)
	}
	if _, err := resolveInterpreter(map[string]any{"virtualenv": "missing"}, root, os.Getenv); err == nil {
		t.Fatal("a missing virtualenv must be an error")
	}
}
