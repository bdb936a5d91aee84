#!/usr/bin/env python3
"""Validates FHIR Bundles with an independent implementation, fhir.resources (R4B models, which
cover the R4 resources the PHR uses):

    validate-fhir.py DIR
"""
import glob
import sys

from fhir.resources.R4B.bundle import Bundle


def main():
    files = sorted(glob.glob(sys.argv[1] + "/*.json"))
    if not files:
        print(f"validate-fhir: FAIL: no bundles in {sys.argv[1]}")
        sys.exit(1)
    resources = 0
    for path in files:
        try:
            bundle = Bundle.parse_raw(open(path, encoding="utf-8").read())
        except Exception as error:  # the validator's message names the field
            print(f"validate-fhir: FAIL: {path}: {error}")
            sys.exit(1)
        resources += len(bundle.entry or [])
    print(f"validate-fhir: {len(files)} bundles, {resources} resources valid (fhir.resources, R4B models)")


if __name__ == "__main__":
    main()
