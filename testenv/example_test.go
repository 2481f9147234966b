package testenv_test

import (
	"context"
	"fmt"
	"log"

	"github.com/pgrunbook/pgrunbook/testenv"
)

// A lab of two database hosts behind a bastion, as `pgrunbook lab up
// --name demo --hosts 2 --bastion` makes it. (Not run by go test: it needs
// root; the integration tests do the same.)
func ExampleUp() {
	ctx := context.Background()
	lab, err := testenv.Up(ctx, testenv.Spec{Name: "demo", Hosts: 2, Bastion: true})
	if err != nil {
		log.Fatal(err)
	}
	defer lab.Down(ctx)
	for _, h := range lab.Hosts {
		fmt.Println(h.Name, h.SSHAddr(), "via", h.Bastion)
	}
	fmt.Println("pgrunbook run rejoin.yml -i", lab.Inventory)
}

// Reattaching to a lab another process brought up, and taking it down.
func ExampleOpen() {
	ctx := context.Background()
	lab, err := testenv.Open(ctx, "demo", "")
	if err != nil {
		log.Fatal(err)
	}
	if err := lab.Down(ctx); err != nil {
		log.Fatal(err)
	}
}
