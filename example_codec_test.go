package hoard_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hoard-cache/hoard"
)

type member struct {
	Name  string   `json:"name"`
	Age   int      `json:"age"`
	Token string   `json:"-"` // never cached, under JSON or MsgPack
	Roles []string `json:"roles,omitempty"`
}

func ExampleMsgPack() {
	b, err := hoard.MsgPack.Marshal(member{Name: "Ada", Age: 36, Token: "secret"})
	if err != nil {
		panic(err)
	}
	j, _ := hoard.JSON.Marshal(member{Name: "Ada", Age: 36})
	fmt.Printf("%s: %d bytes (json: %d)\n", hoard.MsgPack.Name(), len(b), len(j))

	var u member
	if err := hoard.MsgPack.Unmarshal(b, &u); err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", u)

	// A header that claims 4 GiB of string is refused, not allocated.
	err = hoard.MsgPack.Unmarshal([]byte{0xdb, 0xff, 0xff, 0xff, 0xff, 'A', 'd', 'a'}, &u)
	fmt.Println(errors.Is(err, hoard.ErrCorrupt))
	// Output:
	// msgpack: 15 bytes (json: 23)
	// {Name:Ada Age:36 Token: Roles:[]}
	// true
}

func ExampleCompressed() {
	codec, err := hoard.Compressed(hoard.MsgPack, nil) // compress from 1 KiB
	if err != nil {
		panic(err)
	}
	fmt.Println(codec.Name())

	small, _ := codec.Marshal(member{Name: "Ada", Age: 36})
	fmt.Printf("small: header %d, %d bytes\n", small[0], len(small))

	admin := member{Name: "Grace", Age: 45}
	for range 200 {
		admin.Roles = append(admin.Roles, "reader")
	}
	plain, _ := hoard.MsgPack.Marshal(admin)
	large, _ := codec.Marshal(admin)
	// (S2's exact output may differ between its assembly and Go encoders.)
	fmt.Printf("large: header %d, %d bytes of msgpack, under a tenth of that: %t\n",
		large[0], len(plain), len(large) < len(plain)/10)

	var u member
	if err := codec.Unmarshal(large, &u); err != nil {
		panic(err)
	}
	fmt.Println(u.Name, len(u.Roles), strings.Join(u.Roles[:2], ","))
	// Output:
	// msgpack+s2
	// small: header 0, 16 bytes
	// large: header 1, 1426 bytes of msgpack, under a tenth of that: true
	// Grace 200 reader,reader
}
