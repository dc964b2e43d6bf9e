"""The plans domain's error codes: plan files, and facts a benefit's rule cannot use."""

from __future__ import annotations

from huzhu.errors import ErrorCode


class PlanError(ErrorCode):
    FILE = ("plans.file", "%(where)s: %(problem)s")
    UNKNOWN_PLAN = ("plans.unknown_plan", "unknown plan %(plan)s; plans are: %(plans)s")
    BEFORE_BIRTH = ("plans.before_birth", "date %(on)s is before the birth date %(birth)s")
    FACT_REQUIRED = ("plans.fact_required", "%(fact)s is required for this benefit")
    FACT_NOT_WHOLE = ("plans.fact_not_whole", "%(fact)s must be a whole number")
    FACT_NEGATIVE = ("plans.fact_negative", "%(fact)s must not be negative")
    GRADES_REQUIRED = ("plans.grades_required",
                       "disability_grades is required for this benefit (at least one grade 1..10)")
    GRADE_RANGE = ("plans.grade_range", "disability grade must be a whole number from 1 to 10, got %(grade)s")
    FAULT_RANGE = ("plans.fault_range", "fault_share_bp must be between 0 and 10000 basis points, got %(bp)s")
    UNKNOWN_RULE = ("plans.unknown_rule", "unknown benefit rule %(rule)s")
