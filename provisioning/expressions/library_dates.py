"""Date functions: CDate, DateAdd, DateDiff, DateFromNum, FormatDateTime, NumFromDate (Now is
evaluated by the compiler, which knows the context's clock).

Dates travel between functions as datetimes and are shown as Entra's M/d/yyyy h:mm:ss tt in UTC.
"""

from __future__ import annotations

from .dates import (
    add_interval, as_utc, date_difference, format_date, from_filetime, parse_styles, parse_with_format, to_filetime,
)
from datetime import datetime

from .values import ArgumentProblem, to_date, to_int, to_text


def cdate(expression):
    moment = to_date(expression, "expression")
    return None if moment is None else as_utc(moment)


def date_add(interval, value, date_time):
    interval = to_text(interval, "interval")
    moment = to_date(date_time, "dateTime")
    if moment is None or value is None:
        return None
    return add_interval(interval or "", to_int(value, "value"), moment)


def date_diff(interval, date1, date2):
    interval = to_text(interval, "interval")
    first, second = to_date(date1, "date1"), to_date(date2, "date2")
    if first is None or second is None:
        return None
    return date_difference(interval or "", first, second)


def date_from_num(value):
    if value is None:
        return None
    return from_filetime(to_int(value, "value"))


def format_date_time(source, *rest):
    # Entra's older three-argument form has no dateTimeStyles: (source, inputFormat, outputFormat).
    styles, input_format, output_format = (None, *rest) if len(rest) == 2 else rest
    input_format = to_text(input_format, "inputFormat")
    output_format = to_text(output_format, "outputFormat")
    styles = parse_styles(to_text(styles, "dateTimeStyles"))
    if not input_format or not output_format:
        raise ArgumentProblem("inputFormat and outputFormat are required, e.g. \"yyyyMMddHHmmss.fZ\" and \"yyyy-MM-dd\"")
    if source is None:
        return None
    if isinstance(source, datetime):
        moment = source
    else:
        moment = parse_with_format(to_text(source, "source"), input_format, styles)
    return format_date(moment, output_format)


def num_from_date(value):
    moment = to_date(value, "value")
    return None if moment is None else to_filetime(moment)


IMPLEMENTATIONS = {
    "CDate": cdate,
    "DateAdd": date_add,
    "DateDiff": date_diff,
    "DateFromNum": date_from_num,
    "FormatDateTime": format_date_time,
    "NumFromDate": num_from_date,
}
