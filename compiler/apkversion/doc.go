// Package apkversion parses and orders APK package versions ("1.31.4-r0",
// "2.4.65_p1-r2"), with the grammar and the order apko applies when it
// resolves packages: vet, the package universes, bump and VEX judge
// versions as the build will. It is a leaf package with no apko import, so
// that `hic verify` and `hic plan` do not link apko. It does not parse
// dependency constraints ("name>=1.2") or package names.
package apkversion
