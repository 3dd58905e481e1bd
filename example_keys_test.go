package hoard_test

import (
	"fmt"

	"github.com/hoard-cache/hoard"
)

func ExampleKeyBuilder() {
	users, err := hoard.NewKeyBuilder("shop:users", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(users.Key("42", "orders"))
	// Separators and braces inside a part are encoded, so these differ.
	fmt.Println(users.Key("a:b"))
	fmt.Println(users.Key("a", "b"))
	fmt.Println(users.Key("{x}"))

	parts, ok := users.Split("shop:users:a%3Ab:c")
	fmt.Printf("%q %v\n", parts, ok)

	_, err = hoard.NewKeyBuilder("shop{users}", nil)
	fmt.Println(err)
	// Output:
	// shop:users:42:orders
	// shop:users:a%3Ab
	// shop:users:a:b
	// shop:users:%7Bx%7D
	// ["a:b" "c"] true
	// hoard: invalid option: key prefix "shop{users}" contains '{' at byte 4
}

func ExampleKeyBuilder_SlotKey() {
	carts, err := hoard.NewKeyBuilder("shop:carts", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Both keys hash to the slot of "u42" in Redis Cluster, so one Lua
	// script may touch them both.
	fmt.Println(carts.SlotKey("u42", "items"))
	fmt.Println(carts.SlotKey("u42", "total"))
	fmt.Println(carts.SlotKey(""))

	tag, parts, ok := carts.SplitSlotKey("shop:carts:{u42}:items")
	fmt.Printf("%q %q %v\n", tag, parts, ok)
	// Output:
	// shop:carts:{u42}:items
	// shop:carts:{u42}:total
	// shop:carts:{%}
	// "u42" ["items"] true
}

func ExampleKeyBuilder_Key_long() {
	files, err := hoard.NewKeyBuilder("files", &hoard.KeyOptions{MaxLen: 100})
	if err != nil {
		fmt.Println(err)
		return
	}
	path := "/srv/www/static/releases/2024/some/very/deeply/nested/directory/with/a/rather/long/file-name.tar.gz"
	// The key would be 105 bytes: it is replaced by a hash of itself.
	key := files.Key(path)
	fmt.Println(key, len(key))
	_, ok := files.Split(key)
	fmt.Println(ok)
	// Output:
	// files:%H89fb6c2215cbdf34aaf208c6ed98237817e05139e47466a1ca205e61ce09a0c2 72
	// false
}
