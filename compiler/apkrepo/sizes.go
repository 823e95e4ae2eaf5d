package apkrepo

import "strings"

const (
	kB = 1000
	mB = 1000 * kB
)

// realisticSize is the installed size, in bytes at Scale 1, of a package
// called name. Exact names come first, then name prefixes, then defaults.
// The figures are rounded from Wolfi and Alpine packages of 2025:
//
//	glibc 6 MB, musl 650 kB, ld-linux 250 kB, busybox 1 MB, bash 1.5 MB,
//	apk-tools 400 kB, libcrypto3 4.5 MB, libssl3 700 kB, openssl 5 MB,
//	zlib 110 kB, ca-certificates-bundle 220 kB, tzdata 1.5 MB,
//	shadow 3 MB, sudo 2.5 MB, su-exec 20 kB, baselayouts 8 kB;
//	servers and CLI tools: nginx 3 MB, curl 500 kB, jq 700 kB, redis 8 MB,
//	git 20 MB, postgresql 40 MB, mariadb 120 MB, kubectl 50 MB, helm 55 MB,
//	terraform 90 MB, go 150 MB;
//	runtimes by prefix: openjdk-/temurin-/corretto- 150 MB (60 MB for a
//	"jre"), nodejs 80 MB, python 60 MB, py3- 2 MB, ruby 30 MB, php 25 MB,
//	perl 20 MB, dotnet 120 MB, rust 150 MB, gcc 120 MB, llvm/clang 150 MB;
//	any other "lib…" 500 kB; anything else 10 MB.
func realisticSize(name string) int64 {
	switch name {
	case "glibc":
		return 6 * mB
	case "musl":
		return 650 * kB
	case "ld-linux":
		return 250 * kB
	case "busybox":
		return 1 * mB
	case "bash":
		return 1500 * kB
	case "apk-tools":
		return 400 * kB
	case "libcrypto3":
		return 4500 * kB
	case "libssl3":
		return 700 * kB
	case "openssl":
		return 5 * mB
	case "zlib":
		return 110 * kB
	case "ca-certificates-bundle":
		return 220 * kB
	case "tzdata":
		return 1500 * kB
	case "shadow":
		return 3 * mB
	case "sudo":
		return 2500 * kB
	case "su-exec":
		return 20 * kB
	case "wolfi-baselayout", "alpine-baselayout", "alpine-baselayout-data":
		return 8 * kB
	case "nginx":
		return 3 * mB
	case "curl":
		return 500 * kB
	case "jq":
		return 700 * kB
	case "redis":
		return 8 * mB
	case "git":
		return 20 * mB
	case "postgresql":
		return 40 * mB
	case "mariadb", "mysql":
		return 120 * mB
	case "kubectl":
		return 50 * mB
	case "helm":
		return 55 * mB
	case "terraform":
		return 90 * mB
	case "go":
		return 150 * mB
	}
	for _, r := range []struct {
		prefix string
		size   int64
	}{
		{"openjdk", 150 * mB}, {"temurin", 150 * mB}, {"corretto", 150 * mB},
		{"nodejs", 80 * mB}, {"python", 60 * mB}, {"py3-", 2 * mB},
		{"ruby", 30 * mB}, {"php", 25 * mB}, {"perl", 20 * mB}, {"dotnet", 120 * mB},
		{"rust", 150 * mB}, {"gcc", 120 * mB}, {"llvm", 150 * mB}, {"clang", 150 * mB},
		{"postgresql", 40 * mB}, {"go-", 150 * mB}, {"lib", 500 * kB},
	} {
		if strings.HasPrefix(name, r.prefix) {
			if r.size == 150*mB && strings.Contains(name, "jre") {
				return 60 * mB
			}
			return r.size
		}
	}
	return 10 * mB
}
