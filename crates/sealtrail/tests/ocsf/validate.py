"""Validates OCSF events (one JSON object per line) with the pydantic-ocsf
models, an independent implementation of the OCSF schema.

pydantic-ocsf ships OCSF schemas up to 1.7.0; the classes Sealtrail uses
(3001-3006, 6003, 6006) and their required attributes are the same in 1.8.0.
Exit status 0 when every event validates; 1 with a report otherwise.
"""
import json
import sys

from ocsf.v1_7_0 import events

CLASSES = {
    3001: events.AccountChange,
    3002: events.Authentication,
    3004: events.EntityManagement,
    3005: events.UserAccess,
    3006: events.GroupManagement,
    6003: events.ApiActivity,
    6006: events.FileHosting,
}


def main(path):
    failures = 0
    count = 0
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            count += 1
            obj = json.loads(line)
            model = CLASSES.get(obj.get("class_uid"))
            if model is None:
                print(f"unknown class_uid {obj.get('class_uid')} in {obj.get('metadata', {}).get('uid')}")
                failures += 1
                continue
            try:
                model.model_validate(obj)
            except Exception as e:  # pydantic.ValidationError
                failures += 1
                print(f"{obj['metadata'].get('event_code')} ({obj['metadata'].get('uid')}): {e}")
    print(f"{count} events checked, {failures} invalid")
    return 1 if failures or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
