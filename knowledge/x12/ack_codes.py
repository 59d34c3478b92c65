"""The code lists of a 999 implementation acknowledgment (005010X231A1), in words.

Which codes each element may hold is checked against pyx12's 999 map (`pyx12/map/999.5010X231.A1.xml`,
BSD licence, installed as a test dependency; see tests/knowledge/x12/test_acknowledgments.py). The
words come from stupidedi's 005010 element definitions (https://github.com/kputnam/stupidedi,
lib/stupidedi/versions/005010/element_defs.rb at commit 00850b4b360627dd51484129552c0fe3aadcc5d6,
data elements 618, 620, 621, 715, 716 and 717), put in sentence case to read inside a sentence. The
names are those of the ASC X12 standard. stupidedi's licence asks that its notice be kept:

    Copyright (c) 2013, Kyle Putnam; Copyright (c) 2025, Adrian Duyzer / Tediware. All rights reserved.
    Redistribution and use in source and binary forms, with or without modification, are permitted
    provided that the following conditions are met: Redistributions of source code must retain the
    above copyright notice, this list of conditions and the following disclaimer. Redistributions in
    binary form must reproduce the above copyright notice, this list of conditions and the following
    disclaimer in the documentation and/or other materials provided with the distribution. Neither the
    name of stupidedi nor the names of its contributors may be used to endorse or promote products
    derived from this software without specific prior written permission. THIS SOFTWARE IS PROVIDED BY
    THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES [...] ARE
    DISCLAIMED.
"""

from __future__ import annotations

from collections.abc import Mapping

#: IK501 (data element 717): what the receiver did with one transaction set.
TRANSACTION_ACK: Mapping[str, str] = {
    "A": "accepted",
    "E": "accepted but errors were reported",
    "M": "rejected, message authentication code (MAC) failed",
    "R": "rejected",
    "W": "rejected, assurance failed validity tests",
    "X": "rejected, content after decryption could not be analyzed",
}
#: IK501 codes that reject the transaction set: none of its claims reached the payer.
REJECTED = frozenset({"M", "R", "W", "X"})

#: IK502..IK506 (data element 618): why a transaction set was rejected or noted.
TRANSACTION_ERRORS: Mapping[str, str] = {
    "1": "transaction set not supported",
    "2": "transaction set trailer missing",
    "3": "transaction set control number in header and trailer do not match",
    "4": "number of included segments does not match actual count",
    "5": "one or more segments in error",
    "6": "missing or invalid transaction set identifier",
    "7": "missing or invalid transaction set control number",
    "8": "authentication key name unknown",
    "9": "encryption key name unknown",
    "10": "requested service (authentication or encrypted) not available",
    "11": "unknown security recipient",
    "12": "incorrect message length (encryption only)",
    "13": "message authentication code failed",
    "15": "unknown security originator",
    "16": "syntax error in decrypted text",
    "17": "security not supported",
    "18": "transaction set not in functional group",
    "19": "invalid transaction set implementation convention reference",
    "23": "transaction set control number not unique within the functional group",
    "24": "S3E security end segment missing for S3S security start segment",
    "25": "S3S security start segment missing for S3E security end segment",
    "26": "S4E security end segment missing for S4S security start segment",
    "27": "S4S security start segment missing for S4E security end segment",
    "I5": "implementation one or more segments in error",
    "I6": "implementation convention not supported",
}
#: Codes that only say "see the segment errors": left out of a reason that lists those errors.
SEGMENTS_IN_ERROR = frozenset({"5", "I5"})

#: IK304 (data element 620): what is wrong with a segment.
SEGMENT_ERRORS: Mapping[str, str] = {
    "1": "unrecognized segment ID",
    "2": "unexpected segment",
    "3": "required segment missing",
    "4": "loop occurs over maximum times",
    "5": "segment exceeds maximum use",
    "6": "segment not in defined transaction set",
    "7": "segment not in proper sequence",
    "8": "segment has data element errors",
    "I4": "implementation 'not used' segment present",
    "I6": "implementation dependent segment missing",
    "I7": "implementation loop occurs under minimum times",
    "I8": "implementation segment below minimum use",
    "I9": "implementation dependent 'not used' segment present",
}
#: IK304 "segment has data element errors": the IK4s that follow say which, so it is not repeated.
HAS_ELEMENT_ERRORS = "8"

#: IK403 (data element 621): what is wrong with a data element. pyx12's map also allows "11", which
#: stupidedi's list (and the standard's, as far as we can tell) does not name: it reads as unknown.
ELEMENT_ERRORS: Mapping[str, str] = {
    "1": "required data element missing",
    "2": "conditional required data element missing",
    "3": "too many data elements",
    "4": "data element too short",
    "5": "data element too long",
    "6": "invalid character in data element",
    "7": "invalid code value",
    "8": "invalid date",
    "9": "invalid time",
    "10": "exclusion condition violated",
    "12": "too many repetitions",
    "13": "too many components",
    "I6": "code value not used in implementation",
    "I9": "implementation dependent data element missing",
    "I10": "implementation 'not used' data element present",
    "I11": "implementation too few repetitions",
    "I12": "implementation pattern match failure",
    "I13": "implementation dependent 'not used' data element present",
}

#: AK901 (data element 715): what the receiver did with the functional group as a whole.
GROUP_ACK: Mapping[str, str] = {
    "A": "accepted",
    "E": "accepted, but errors were noted",
    "M": "rejected, message authentication code (MAC) failed",
    "P": "partially accepted, at least one transaction set was rejected",
    "R": "rejected",
    "W": "rejected, assurance failed validity tests",
    "X": "rejected, content after decryption could not be analyzed",
}

#: AK905..AK909 (data element 716): why a functional group was rejected.
GROUP_ERRORS: Mapping[str, str] = {
    "1": "functional group not supported",
    "2": "functional group version not supported",
    "3": "functional group trailer missing",
    "4": "group control number in the functional group header and trailer do not agree",
    "5": "number of included transaction sets does not match actual count",
    "6": "group control number violates syntax",
    "10": "authentication key name unknown",
    "11": "encryption key name unknown",
    "12": "requested service (authentication or encryption) not available",
    "13": "unknown security recipient",
    "14": "unknown security originator",
    "15": "syntax error in decrypted text",
    "16": "security not supported",
    "17": "incorrect message length (encryption only)",
    "18": "message authentication code failed",
    "19": "functional group control number not unique within interchange",
    "23": "S3E security end segment missing for S3S security start segment",
    "24": "S3S security start segment missing for S3E security end segment",
    "25": "S4E security end segment missing for S4S security start segment",
    "26": "S4S security start segment missing for S4E security end segment",
}


def decode(codes: Mapping[str, str], code: str, what: str) -> str:
    """A code in words; one no list names keeps its value ("IK403 code 11 (not in the code list)")."""
    return codes.get(code) or f"{what} code {code} (not in the code list)"
