module milo.dev/milo

go 1.21
