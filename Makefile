# Baton. `make up` runs it on this machine; `make test` runs every test
# against real containerd and NATS. Both install what is missing (as root,
# on Debian).
GO      ?= go
BIN     := bin/baton
DATA    ?= /var/lib/baton
IMAGES  := build/images

.PHONY: all build deps images up test vet clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/baton

deps:
	@scripts/install-deps.sh

images: build
	$(BIN) images build --out $(IMAGES)

up: deps images
	$(BIN) up --data $(DATA) --images $(IMAGES)

vet:
	$(GO) vet ./...

test: deps images
	$(GO) test -count=1 -timeout 14m ./...

clean:
	rm -rf bin build
