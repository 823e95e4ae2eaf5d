// Package universe owns the package universe of a distro: every package the
// catalog may use, with its available versions, origin, architectures,
// dependencies, what it provides (cmd:, so:, virtual names) and the files
// that matter, plus the snapshot of the distro's real data it was taken
// from. vet checks pins and entrypoints against it, the generated mirror
// serves only what it lists and `hic bump` moves pins to its newest
// versions. It does not resolve images (compiler/resolve), build
// repositories (compiler/apkrepo) or read signed indexes (compiler/apkindex
// imports them into a universe).
//
// # Where it lives
//
// A catalog keeps one universe per distro under <catalog>/universe/:
// either one file <distro>.txt, or, when that would pass MaxFileSize, a
// directory <distro>/ of parts split by the first character of the package
// name (a.txt, b.txt, ...; 0.txt for names starting with a digit), each a
// complete file with the same header. WriteDir picks the form; ReadDir
// reads either (both at once is an error).
//
// # The file format
//
// A universe file is UTF-8 text, one record per line, sorted, so a refresh
// reads as a diff of the packages that changed. Blank lines and lines
// starting with "#" are comments. Header lines start with "@" and come
// before the packages:
//
//	@universe 1
//	@distro wolfi
//	@arch aarch64 x86_64
//	@verified yes
//	@source os url=https://packages.wolfi.dev/os from=https://github.com/wolfi-dev/os commit=0123abc date=2026-08-22
//	@source main url=https://dl-cdn.alpinelinux.org/alpine/v3.23/main date=2026-11-30 index.x86_64=sha256:9f2c... signer=alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub
//
// @universe is the format version (1). @arch lists the architectures a
// package has unless it says otherwise. @verified (yes or no, default yes)
// is what package lines without their own verified= field are: "yes" means
// every fact on the line was read from the distro's real data (a signed
// index, or the distro's source at the commit named); "no" means some of it
// was not (inferred, or newer than the snapshot) and vet reports specs that
// rest on it. Each @source line names a snapshot (a repository or a source
// tree) by a short name packages refer to, followed by key=value fields:
// url (the APK repository URL), from (the source repository it was built
// from), commit, date (YYYY-MM-DD, the day of the snapshot), index.<arch>
// (the digest of that arch's APKINDEX.tar.gz), signer (the key that signed
// it) and verified (yes or no).
//
// Every other line is a package:
//
//	NAME VERSIONS [KEY=VALUE...]
//
// sorted by NAME, one line per name. VERSIONS lists the versions the
// repository has, comma-separated, newest first (apk version order). The
// optional fields, each at most once, in this order:
//
//	o=ORIGIN     the origin (source package); omitted when it is NAME
//	a=ARCH,...   architectures, when not the @arch list
//	r=SOURCE     the @source it comes from; omitted for the first
//	d=DEP,...    dependencies as apk writes them ("zlib", "so:libc.so.6", "cmd:sh", "foo>=1.2")
//	p=PROV,...   provides ("cmd:httpd", "so:libz.so.1=1", "java-jre"); a provide
//	             without "=" is versioned with the package version when served
//	f=PATH,...   files worth knowing that no cmd: provide implies: entrypoints
//	             outside bin directories, config files images start with
//	s=KIND,...   install scripts and triggers the package runs
//	             ("pre-install", "post-install", "trigger"); apko runs none
//	sf=PATH,...  files only those scripts create (the package does not ship them)
//	removed=DATE the package left the repository on DATE; VERSIONS are the
//	             ones it had, and none of them can be installed at the snapshot
//	verified=yes|no  overrides @verified for this package
//
// Lists are sorted (versions newest first, everything else bytewise) and
// hold no duplicates. Values never contain spaces or commas. Dependencies
// and provides are those of the newest version.
//
// Reading is a single pass over lines with no allocation per field beyond
// the strings kept, so vet can load every distro's universe in a few
// milliseconds.
package universe
