using System.Net;
using System.Text;
using System.Text.Json;

namespace Switchboard.FunctionalTests;

internal static class Api
{
    public static async Task<JsonElement> PostAsync(HttpClient http, string method, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(new Uri("/api/" + method, UriKind.Relative), content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }
}
