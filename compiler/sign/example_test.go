package sign_test

import (
	"context"
	"fmt"

	"github.com/hic-build/hic/compiler/sign"
)

func Example() {
	ctx := context.Background()
	key, err := sign.GenerateKey()
	if err != nil {
		panic(err)
	}
	signer, err := sign.NewSigner(key)
	if err != nil {
		panic(err)
	}
	env, err := sign.SignStatement(ctx, signer, []byte(`{"_type":"https://in-toto.io/Statement/v1"}`))
	if err != nil {
		panic(err)
	}

	verifier, err := sign.NewVerifier(&key.PublicKey)
	if err != nil {
		panic(err)
	}
	payload, err := sign.VerifyEnvelope(ctx, verifier, env)
	if err != nil {
		panic(err)
	}
	fmt.Println(env.PayloadType)
	fmt.Println(string(payload))
	// Output:
	// application/vnd.in-toto+json
	// {"_type":"https://in-toto.io/Statement/v1"}
}
