// compose-check loads a Compose file as Docker Compose does, with compose-go (the loader `docker compose` is built
// on): the compose-spec JSON schema, interpolation (required variables included), merge keys, profiles and the
// consistency checks. It prints the resolved project as JSON, like `docker compose config --format json`, or the
// loader's error and exits 1. Only the variables given with -env are set: the result does not depend on the caller's
// environment or on a .env file.
//
//	go run . -file ../../docker-compose.yml -env CIBA_PAYLOAD_KEY=... [-profile cli]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var file string
	var env, profiles list
	flag.StringVar(&file, "file", "docker-compose.yml", "the Compose file")
	flag.Var(&env, "env", "KEY=VALUE, a variable for interpolation (repeatable)")
	flag.Var(&profiles, "profile", "a profile to enable (repeatable)")
	flag.Parse()

	options, err := cli.NewProjectOptions(
		[]string{file},
		cli.WithEnv(env),
		cli.WithProfiles(profiles),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	fail(err)
	project, err := options.LoadProject(context.Background())
	fail(err)
	out, err := project.MarshalJSON()
	fail(err)
	fmt.Println(string(out))
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
