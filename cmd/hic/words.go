package main

// plural returns one when n is 1, else many: "1 image", "2 images".
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
