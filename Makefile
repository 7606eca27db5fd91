# storesync: `make test` installs what the tests need, then runs every test.
.PHONY: test deps lint demo bench bench-webhooks bench-stores sizes

PIP ?= python3 -m pip

deps:
	@command -v python3 >/dev/null || { echo "python3 is required (apt-get install python3 python3-pip)"; exit 1; }
	@command -v moto_server >/dev/null || $(PIP) install --quiet 'moto[server]'
	@command -v cfn-lint >/dev/null || $(PIP) install --quiet cfn-lint
	@python3 -c "import samtranslator, boto3" 2>/dev/null || $(PIP) install --quiet aws-sam-translator boto3

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

test: deps lint
	cargo test --workspace

demo:
	cargo run --release -- demo

bench:
	bash bench/run.sh

bench-webhooks:
	cargo bench -p storesync-core --bench webhook_receipt
	cargo bench -p storesync-tests --bench stock_backlog
	bash bench/webhooks.sh

bench-stores:
	cargo bench -p storesync-core --bench store_compare
	cargo bench -p storesync-platforms --bench shopify_inventory
	cargo bench -p storesync-tests --bench woo_store_sync

sizes:
	bash bench/sizes.sh
