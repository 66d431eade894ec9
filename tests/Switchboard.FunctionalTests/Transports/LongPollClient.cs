using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Switchboard.FunctionalTests.Transports;

/// <summary>
/// A long-polling client as docs/long-polling.md describes it: it keeps each channel's position,
/// sends it with every poll, and records every publication it is given, in order.
/// </summary>
internal sealed class LongPollClient
{
    private readonly Dictionary<string, JsonObject> _positions = new(StringComparer.Ordinal);

    public LongPollClient(params string[] channels)
    {
        foreach (var channel in channels)
        {
            _positions[channel] = [];
        }
    }

    /// <summary>Every publication received, per channel, in the order received: its offset and data.</summary>
    public Dictionary<string, List<(ulong Offset, string Data)>> Received { get; } = new(StringComparer.Ordinal);

    public int Polls { get; private set; }

    public int EmptyPolls { get; private set; }

    public string? Token { get; set; }

    /// <summary>One poll of the loop against <paramref name="baseAddress"/>; fails the test on anything but 200 with every channel continuous.</summary>
    public async Task PollAsync(Uri baseAddress, int timeoutMs, CancellationToken ct = default)
    {
        var body = new JsonObject { ["channels"] = new JsonObject(_positions.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value.DeepClone()))), ["timeout_ms"] = timeoutMs };
        if (Token is not null)
        {
            body["token"] = Token;
        }
        var (status, answer) = await SendAsync(baseAddress, body.ToJsonString(), ct);
        Assert.True(status == HttpStatusCode.OK, $"{status}: {answer}");
        Polls++;
        var any = false;
        foreach (var channel in answer.GetProperty("channels").EnumerateObject())
        {
            var c = channel.Value;
            if (c.TryGetProperty("recovered", out var recovered))
            {
                Assert.True(recovered.GetBoolean(), $"gap in {channel.Name}: {c}");
            }
            if (c.TryGetProperty("publications", out var publications))
            {
                var list = Received.TryGetValue(channel.Name, out var l) ? l : Received[channel.Name] = [];
                foreach (var publication in publications.EnumerateArray())
                {
                    list.Add((publication.GetProperty("offset").GetUInt64(), publication.GetProperty("data").GetRawText()));
                    any = true;
                }
            }
            _positions[channel.Name] = new JsonObject { ["epoch"] = c.GetProperty("epoch").GetString(), ["offset"] = c.GetProperty("offset").GetUInt64() };
        }
        if (!any)
        {
            EmptyPolls++;
        }
    }

    public int Count => Received.Values.Sum(l => l.Count);

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>Posts a raw body; returns the status and the JSON answer.</summary>
    public static async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(Uri baseAddress, string body, CancellationToken ct = default, string? origin = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(baseAddress, "/connection/long_poll"))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }
        using var response = await Http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        return (response.StatusCode, JsonDocument.Parse(text.Length == 0 ? "{}" : text).RootElement.Clone());
    }

    public static Task<HttpResponseMessage> SendRawAsync(HttpRequestMessage request, CancellationToken ct = default) => Http.SendAsync(request, ct);
}
