"""The payload contract as a whole: export it for other tools, diff two versions of it.

>>> from simulator.contract import diff_contracts, load_contract, openapi
>>> contract = load_contract()                      # the shipped schemas/, or any folder or bundle
>>> sorted(openapi(contract)["webhooks"])[:2]
['backend_message.archived', 'backend_message.posted']
>>> diff_contracts(contract, contract).exit_code
0
"""

from __future__ import annotations

from simulator.contract._asyncapi import asyncapi
from simulator.contract._contract import BUNDLE_ID, Contract, load_contract
from simulator.contract._diff import Change, ContractDiff, diff_contracts
from simulator.contract._openapi import openapi

__all__ = ["BUNDLE_ID", "Change", "Contract", "ContractDiff", "asyncapi", "diff_contracts", "load_contract",
           "openapi"]
