"""What the IVR itself says (the bot's replies come from the bot): greeting, reprompts,
read-backs, transfers and goodbyes."""

from __future__ import annotations

GREETING = (
    "您好，欢迎致电12345政务服务便民热线。请直接说出您要咨询或反映的问题，需要人工服务请按0。"
)
REPROMPTS = (
    "您好，请问您还在线吗？请说出您要咨询或反映的问题。",
    "如果不方便说话，可以按0转人工服务。请问有什么可以帮您？",
)
CONFIRM_TEXT = "您说的是：{text}。对吗？请说对或者不对，也可以按1确认、按2重说。"
CONFIRM_NUMBER = "您说的号码是：{number}。对吗？请说对或者不对，也可以按1确认、按2重说。"
SAY_AGAIN = "好的，请您再说一遍，号码也可以用按键输入，以井号键结束。"
TRANSFER = "正在为您转接人工服务，请稍候。"
BOT_DOWN = "抱歉，系统暂时繁忙，正在为您转接人工服务，请稍候。"
NO_INPUT_BYE = "很抱歉，一直没有听到您的声音，本次通话将结束。如需帮助请再次拨打12345，再见。"
TOO_LONG = "本次通话时间较长，正在为您转接人工服务，请稍候。"
SHUTDOWN = "系统维护中，正在为您转接人工，请稍候。"  # the process is stopping
BUSY = "您好，当前线路全忙，请稍后再拨。紧急情况请直接拨打110、119或120。"
# A call past the process's measured capacity (speech/overflow.py): a choice, never silence.
OVERFLOW = (
    "您好，当前来电较多。需要我们回电请按1，我们会尽快回电到您现在的号码；"
    "等待人工服务请按2或不要挂机。"
)
OVERFLOW_CALLBACK = "已为您登记回电，工单号{number}。话务员会尽快给您回电，再见。"
OVERFLOW_NO_NUMBER = "抱歉，没有获取到您的来电号码，无法回电。正在为您转接人工服务，请稍候。"

# Fixed prompts are worth caching as audio (speech/calls.py).
PROMPTS = (
    GREETING,
    *REPROMPTS,
    SAY_AGAIN,
    TRANSFER,
    BOT_DOWN,
    NO_INPUT_BYE,
    TOO_LONG,
    SHUTDOWN,
    BUSY,
    OVERFLOW,
    OVERFLOW_NO_NUMBER,
)
