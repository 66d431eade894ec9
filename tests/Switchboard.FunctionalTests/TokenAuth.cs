using System.Text.Json;
using System.Threading.Channels;

namespace Switchboard.FunctionalTests;

/// <summary>What a client observes when it connects or refreshes with a token.</summary>
internal static class TokenAuth
{
    /// <summary>0 when the connect succeeded; else the error code of the reply, or the close code.</summary>
    public static async Task<int> ConnectOutcomeAsync(Uri uri, string token)
    {
        await using var client = await RawClient.OpenAsync(uri);
        await client.SendRawAsync($"{{\"id\":1,\"connect\":{{\"token\":\"{token}\"}}}}");
        return await OutcomeAsync(client, "connect");
    }

    /// <summary>0 when the refresh succeeded; else the error code of the reply, or the close code.</summary>
    public static async Task<int> RefreshOutcomeAsync(RawClient client, string token)
    {
        var id = client.NextId();
        await client.SendRawAsync($"{{\"id\":{id},\"refresh\":{{\"token\":\"{token}\"}}}}");
        return await OutcomeAsync(client, "refresh");
    }

    private static async Task<int> OutcomeAsync(RawClient client, string method)
    {
        JsonElement message;
        try
        {
            message = await client.NextAsync();
        }
        catch (ChannelClosedException)
        {
            return await client.ClosedAsync() ?? -1;
        }
        if (message.TryGetProperty("error", out var error))
        {
            return error.GetProperty("code").GetInt32();
        }
        Assert.True(message.TryGetProperty(method, out _), message.ToString());
        return 0;
    }
}
