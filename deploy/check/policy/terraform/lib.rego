# Helpers over the Terraform of one root, as conftest reads it: `conftest test --parser hcl2 --combine <root>` gives
# an array of {path, contents}, one per .tf file, each block type a map of names to lists of blocks.
package terraform

import rego.v1

# Every resource of a type: {name, config, path}.
resources(type) := [r |
	some file in input
	some name, blocks in file.contents.resource[type]
	some config in blocks
	r := {"name": name, "config": config, "path": file.path}
]

# The resources of a type whose `bucket`-like attribute refers to the named resource (e.g. aws_s3_bucket.uploads).
referring(type, attribute, target) := [r |
	some r in resources(type)
	contains(sprintf("%v", [r.config[attribute]]), sprintf("%s.", [target]))
]

# The first block of a nested block list, or {} when there is none.
block(config, key) := config[key][0] if {
	count(config[key]) > 0
} else := {}
