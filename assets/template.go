package assets

import "html/template"

// FuncMap returns the template functions of the set, for
// [html/template.Template.Funcs]:
//
//	asset NAME   the URL of the asset NAME (see [Set.URL]), as in
//	             <link rel="stylesheet" href="{{ asset "css/site.css" }}">
//
// An unknown name fails the template's execution with an error wrapping
// [ErrUnknownAsset]. The URL is a plain string, so html/template still
// escapes it for the context it lands in.
func (s *Set) FuncMap() template.FuncMap {
	return template.FuncMap{"asset": s.URL}
}
