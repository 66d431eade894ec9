using System.Net.WebSockets;
using System.Text;

namespace Switchboard.FunctionalTests;

/// <summary>One generated frame: bytes, the frame type, and whether to send it in fragments.</summary>
internal sealed record FuzzFrame(byte[] Bytes, WebSocketMessageType Type, bool Fragmented, string Kind);

/// <summary>
/// Generates hostile frames from a seed: random bytes, invalid UTF-8, truncated and mutated valid
/// commands, wrong types, duplicate and huge ids, deep nesting, huge numbers, binary frames,
/// oversized fragmented messages, pongs without pings and commands before connect.
/// </summary>
internal sealed class FrameFuzzer(Random random, int maxMessageBytes)
{
    private static readonly string[] Methods = ["connect", "subscribe", "unsubscribe", "publish", "presence", "presence_stats", "history", "rpc", "refresh", "sub_refresh", "send", "teleport"];

    private static readonly string[] Channels =
        ["plain:a", "chat:room", "nowhere:x", "$secret:vault", "news", "", "dm:chat#alice,bob", "x:" + new string('c', 300), "plain:\u00e9\u4e2d", "ids:12", "plain:a\\nb", "::::", "$", "#"];

    public FuzzFrame Next()
    {
        return random.Next(14) switch
        {
            0 => new(RandomBytes(random.Next(0, 300)), WebSocketMessageType.Text, false, "random-bytes"),
            1 => new(Encoding.ASCII.GetBytes(RandomPrintable(random.Next(1, 200))), WebSocketMessageType.Text, false, "random-text"),
            2 => new(Encoding.UTF8.GetBytes(Command()), WebSocketMessageType.Binary, false, "binary"),
            3 => new(Oversized(), WebSocketMessageType.Text, true, "oversized"),
            4 => new(Mutate(Encoding.UTF8.GetBytes(Command())), WebSocketMessageType.Text, false, "mutated"),
            5 => new(Truncate(Encoding.UTF8.GetBytes(Command())), WebSocketMessageType.Text, false, "truncated"),
            6 => new(Encoding.UTF8.GetBytes(string.Join('\n', Enumerable.Range(0, random.Next(2, 8)).Select(_ => Command()))), WebSocketMessageType.Text, false, "batch"),
            7 => new("{}"u8.ToArray(), WebSocketMessageType.Text, false, "pong"),
            8 => new(Encoding.UTF8.GetBytes($"{{\"id\":{Id()},\"{Pick(Methods)}\":{Nested(random.Next(30, 120))}}}"), WebSocketMessageType.Text, false, "deep"),
            9 => new(InvalidUtf8Command(), WebSocketMessageType.Text, false, "invalid-utf8"),
            10 => new(Encoding.UTF8.GetBytes($"{{\"id\":1,\"id\":{Id()},\"{Pick(Methods)}\":{{}}}}"), WebSocketMessageType.Text, false, "duplicate-id"),
            11 => new(Encoding.UTF8.GetBytes(random.Next(2) == 0 ? "" : "   \n  \n"), WebSocketMessageType.Text, false, "blank"),
            _ => new(Encoding.UTF8.GetBytes(Command()), WebSocketMessageType.Text, random.Next(4) == 0, "command"),
        };
    }

    public string Command()
    {
        var method = Pick(Methods);
        var body = method switch
        {
            "connect" => random.Next(3) switch { 0 => "{}", 1 => $"{{\"token\":{Value()}}}", _ => "{\"token\":\"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.bad\"}" },
            "subscribe" => $"{{\"channel\":{ChannelValue()},\"recover\":{Bool()},\"offset\":{Number()},\"epoch\":{Value()},\"token\":{Value()}}}",
            "publish" => $"{{\"channel\":{ChannelValue()},\"data\":{Value()}}}",
            "history" => $"{{\"channel\":{ChannelValue()},\"limit\":{Number()},\"since\":{{\"offset\":{Number()},\"epoch\":{Value()}}},\"reverse\":{Bool()}}}",
            "rpc" => $"{{\"method\":{Value()},\"data\":{Value()}}}",
            "refresh" or "sub_refresh" => $"{{\"channel\":{ChannelValue()},\"token\":{Value()}}}",
            "send" => $"{{\"data\":{Value()}}}",
            _ => $"{{\"channel\":{ChannelValue()}}}",
        };
        return method == "send" && random.Next(2) == 0 ? $"{{\"send\":{body}}}" : $"{{\"id\":{Id()},\"{method}\":{body}}}";
    }

    private string Id() => random.Next(10) switch
    {
        0 => "0",
        1 => "4294967295",
        2 => "4294967296",
        3 => "-1",
        4 => "1.5",
        5 => "\"7\"",
        6 => "1e400",
        7 => "99999999999999999999999999",
        _ => random.Next(1, 1000).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private string Number() => random.Next(6) switch
    {
        0 => "-5",
        1 => "18446744073709551615",
        2 => "18446744073709551616",
        3 => "1e999",
        4 => "\"12\"",
        _ => random.Next(0, 100).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private string Bool() => random.Next(4) switch { 0 => "true", 1 => "false", 2 => "1", _ => "\"yes\"" };

    private string ChannelValue() => random.Next(8) == 0 ? Value() : $"\"{Pick(Channels)}\"";

    private string Value() => random.Next(9) switch
    {
        0 => "null",
        1 => "12345678901234567890123456789012345678901234567890",
        2 => "\"" + RandomPrintable(random.Next(0, 40)).Replace("\\", "", StringComparison.Ordinal).Replace("\"", "", StringComparison.Ordinal) + "\"",
        3 => Nested(random.Next(1, 70)),
        4 => "{\"a\":[1,2,{\"b\":\"\\u0000\\ud800\"}]}",
        5 => "[]",
        6 => "true",
        7 => "\"\\ud83d\\ude00 é 中\"",
        _ => "{\"text\":\"hello\"}",
    };

    private string Nested(int depth) => random.Next(2) == 0
        ? new string('[', depth) + new string(']', depth)
        : string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth);

    private byte[] Mutate(byte[] bytes)
    {
        if (bytes.Length == 0)
        {
            return bytes;
        }
        var list = bytes.ToList();
        for (var i = random.Next(1, 4); i > 0 && list.Count > 0; i--)
        {
            var at = random.Next(list.Count);
            switch (random.Next(3))
            {
                case 0: list[at] = (byte)random.Next(256); break;
                case 1: list.Insert(at, (byte)random.Next(256)); break;
                default: list.RemoveAt(at); break;
            }
        }
        return [.. list];
    }

    private byte[] Truncate(byte[] bytes) => bytes[..random.Next(0, Math.Max(1, bytes.Length))];

    private byte[] InvalidUtf8Command()
    {
        var command = Encoding.UTF8.GetBytes("{\"id\":3,\"publish\":{\"channel\":\"plain:a\",\"data\":\"xx\"}}");
        var at = command.Length - 6;
        command[at] = 0xC3; // a lead byte followed by an ASCII byte: invalid UTF-8 inside a string
        command[at + 1] = 0x28;
        return command;
    }

    private byte[] Oversized() => Encoding.ASCII.GetBytes("{\"id\":1,\"publish\":{\"channel\":\"plain:a\",\"data\":\"" + new string('o', maxMessageBytes + random.Next(1, 2000)) + "\"}}");

    private byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private string RandomPrintable(int length)
    {
        var chars = new char[length];
        for (var i = 0; i < length; i++)
        {
            chars[i] = (char)random.Next(32, 127);
        }
        return new string(chars);
    }

    private T Pick<T>(T[] items) => items[random.Next(items.Length)];
}
